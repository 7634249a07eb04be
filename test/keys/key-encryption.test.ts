import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import { keyEncryptionKeyProblem, KeyUnsealError, openPrivateJwk, parseKeyEncryptionKey, sealPrivateJwk } from '../../src/keys/key-encryption.js';
import { generatePrivateJwk } from '../../src/keys/key-generation.js';
import { loadConfig } from '../../src/config/config.js';
import { ConfigError } from '../../src/errors/errors.js';

const kekValue = (): string => randomBytes(32).toString('base64url');

describe('GATEHOUSE_KEY_ENCRYPTION_KEY: refused unless 256 random bits', () => {
  test('malicious: placeholders, short, not base64url and repeated bytes are refused', () => {
    const weak = [
      'changeme',
      'CHANGE-ME-to-a-random-value-of-32-bytes-at-least-please',
      'your-key-encryption-key-placeholder-value-here-xxxx',
      randomBytes(16).toString('base64url'),
      'A'.repeat(43),
      Buffer.alloc(32, 'ab').toString('base64url'),
      `${randomBytes(32).toString('base64')}+/`,
      'not base64 at all, with spaces and !!',
    ];
    for (const value of weak) assert.notEqual(keyEncryptionKeyProblem(value), undefined, value);
    assert.equal(keyEncryptionKeyProblem(kekValue()), undefined);
  });

  test('config: refused without echoing the value; required in production with stored keys; accepted with file keys (it seals TOTP secrets)', () => {
    const secretish = 'changeme-changeme-changeme-changeme-changeme';
    const problemsOf = (env: Record<string, string>): string[] => {
      try {
        loadConfig(env);
        return [];
      } catch (error) {
        assert.ok(error instanceof ConfigError);
        return [...error.problems];
      }
    };
    const weak = problemsOf({ GATEHOUSE_ENV: 'development', GATEHOUSE_KEY_SOURCE: 'store', GATEHOUSE_KEY_ENCRYPTION_KEY: secretish });
    assert.equal(weak.length, 1);
    assert.match(weak[0]!, /^GATEHOUSE_KEY_ENCRYPTION_KEY: /);
    assert.ok(!weak[0]!.includes(secretish), 'the message must not quote the secret');
    assert.deepEqual(
      problemsOf({ GATEHOUSE_ENV: 'production', GATEHOUSE_ISSUER: 'https://auth.example.com', GATEHOUSE_KEY_SOURCE: 'store' }).map((p) => p.split(':')[0]),
      ['GATEHOUSE_KEY_ENCRYPTION_KEY'],
    );
    assert.deepEqual(
      problemsOf({
        GATEHOUSE_ENV: 'production',
        GATEHOUSE_ISSUER: 'https://auth.example.com',
        GATEHOUSE_KEY_SOURCE: 'store',
        GATEHOUSE_KEY_ENCRYPTION_KEY: kekValue(),
      }),
      [],
    );
    // With file keys it still seals the TOTP secrets (src/factors/factor-kek.ts): accepted.
    assert.deepEqual(problemsOf({ GATEHOUSE_ENV: 'development', GATEHOUSE_KEY_ENCRYPTION_KEY: kekValue() }), []);
    assert.match(
      problemsOf({ GATEHOUSE_ENV: 'development', GATEHOUSE_KEY_SOURCE: 'store', GATEHOUSE_SIGNING_KEYS: '/k.json' })[0] ?? '',
      /^GATEHOUSE_KEY_SOURCE: "store" cannot be combined/,
    );
    assert.match(problemsOf({ GATEHOUSE_ENV: 'development', GATEHOUSE_KEY_ROTATION_DAYS: '30' })[0] ?? '', /^GATEHOUSE_KEY_ROTATION_DAYS: has no effect/);
    assert.match(problemsOf({ GATEHOUSE_ENV: 'development', GATEHOUSE_JWKS_MAX_AGE_SECONDS: '-1' })[0] ?? '', /^GATEHOUSE_JWKS_MAX_AGE_SECONDS: /);
    const config = loadConfig({
      GATEHOUSE_ENV: 'development',
      GATEHOUSE_KEY_SOURCE: 'store',
      GATEHOUSE_KEY_ROTATION_DAYS: '90',
      GATEHOUSE_JWKS_MAX_AGE_SECONDS: '60',
    });
    assert.equal(config.keyRotationDays, 90);
    assert.equal(config.jwksMaxAgeSeconds, 60);
  });
});

describe('sealed private keys (AES-256-GCM, bound to kid and alg)', () => {
  test('round trip; the sealed text holds no private member', async () => {
    const kek = parseKeyEncryptionKey(kekValue());
    for (const alg of ['EdDSA', 'ES256', 'RS256'] as const) {
      const jwk = await generatePrivateJwk(alg, { nowMs: Date.now() });
      const sealed = sealPrivateJwk(kek, jwk);
      assert.ok(!sealed.includes(jwk.d!), alg);
      assert.deepEqual(openPrivateJwk(kek, jwk.kid, alg, sealed), jwk);
    }
  });

  test('malicious: a longer KEK is not cut to 32 bytes: two keys sharing their first 32 bytes do not open each other', async () => {
    const head = randomBytes(32);
    const a = Buffer.concat([head, randomBytes(16)]).toString('base64url');
    const b = Buffer.concat([head, randomBytes(16)]).toString('base64url');
    const jwk = await generatePrivateJwk('EdDSA', { nowMs: Date.now() });
    const sealed = sealPrivateJwk(parseKeyEncryptionKey(a), jwk);
    assert.throws(() => openPrivateJwk(parseKeyEncryptionKey(b), jwk.kid, 'EdDSA', sealed), KeyUnsealError);
    assert.equal(openPrivateJwk(parseKeyEncryptionKey(a), jwk.kid, 'EdDSA', sealed).kid, jwk.kid);
  });

  test('malicious: another KEK is named as the wrong key-encryption key, not as tampering', async () => {
    const jwk = await generatePrivateJwk('EdDSA', { nowMs: Date.now() });
    const sealed = sealPrivateJwk(parseKeyEncryptionKey(kekValue()), jwk);
    assert.throws(
      () => openPrivateJwk(parseKeyEncryptionKey(kekValue()), jwk.kid, 'EdDSA', sealed),
      (error: unknown) => error instanceof KeyUnsealError && error.reason === 'wrong_kek' && /wrong GATEHOUSE_KEY_ENCRYPTION_KEY/.test(error.message),
    );
  });

  test('malicious: a flipped ciphertext byte, a ciphertext moved to another kid or alg, a truncation: all refused', async () => {
    const kek = parseKeyEncryptionKey(kekValue());
    const jwk = await generatePrivateJwk('EdDSA', { nowMs: Date.now() });
    const other = await generatePrivateJwk('EdDSA', { nowMs: Date.now() });
    const sealed = sealPrivateJwk(kek, jwk);
    const parts = sealed.split('.');
    const body = Buffer.from(parts[3]!, 'base64url');
    body[5] = body[5]! ^ 1;
    const flipped = [...parts.slice(0, 3), body.toString('base64url')].join('.');
    const tampered = (error: unknown) => error instanceof KeyUnsealError && error.reason !== 'wrong_kek' && !error.message.includes(jwk.d!);
    assert.throws(() => openPrivateJwk(kek, jwk.kid, 'EdDSA', flipped), tampered);
    assert.throws(() => openPrivateJwk(kek, other.kid, 'EdDSA', sealed), tampered);
    assert.throws(() => openPrivateJwk(kek, jwk.kid, 'ES256', sealed), tampered);
    assert.throws(() => openPrivateJwk(kek, jwk.kid, 'EdDSA', sealed.slice(0, -30)), tampered);
    assert.throws(() => openPrivateJwk(kek, jwk.kid, 'EdDSA', 'v0.x.y.z'), tampered);
  });
});
