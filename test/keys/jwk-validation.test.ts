import assert from 'node:assert/strict';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import type { JWK } from 'jose';
import { toPublicJwk, validatePrivateSigningJwk } from '../../src/keys/jwk-validation.js';

/** A private JWK straight from Node's crypto, so keys the library refuses to make (RSA 1024) can be tested. */
function privateJwk(type: 'rsa' | 'ec' | 'ed25519' | 'ed448', options: { modulusLength?: number; namedCurve?: string } = {}): JWK {
  const pair =
    type === 'rsa'
      ? generateKeyPairSync('rsa', { modulusLength: options.modulusLength ?? 2048 })
      : type === 'ec'
        ? generateKeyPairSync('ec', { namedCurve: options.namedCurve ?? 'P-256' })
        : type === 'ed25519'
          ? generateKeyPairSync('ed25519')
          : generateKeyPairSync('ed448');
  return pair.privateKey.export({ format: 'jwk' }) as JWK;
}

const rsa2048 = () => ({ ...privateJwk('rsa'), kid: 'rsa-1', alg: 'RS256', use: 'sig' });
const ecP256 = () => ({ ...privateJwk('ec'), kid: 'ec-1', alg: 'ES256', use: 'sig' });
const ed25519 = () => ({ ...privateJwk('ed25519'), kid: 'ed-1', alg: 'EdDSA', use: 'sig' });

const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'k', 'oth'];

describe('validatePrivateSigningJwk: refusals', () => {
  test('a symmetric ("oct") key is refused, whatever alg it claims', () => {
    for (const alg of ['HS256', 'EdDSA', undefined]) {
      const problems = validatePrivateSigningJwk({ kty: 'oct', k: randomBytes(32).toString('base64url'), kid: 'hmac', alg }, 'keys[0]');
      assert.equal(problems.length, 1, String(alg));
      assert.match(problems[0] as string, /^keys\[0\]: symmetric \("oct"\) keys are not accepted/);
    }
  });

  test('an RSA key of 1024 bits is refused', () => {
    const problems = validatePrivateSigningJwk({ ...privateJwk('rsa', { modulusLength: 1024 }), kid: 'weak', alg: 'RS256' }, 'keys[0]');
    assert.deepEqual(problems, ['keys[0]: RSA keys must be at least 2048 bits']);
  });

  test('regression: an RSA 1024 modulus padded with leading zero bytes to 256 bytes is still refused', () => {
    // Counting encoded bytes let this through; the key then failed at the first signature instead of at startup.
    const weak = privateJwk('rsa', { modulusLength: 1024 });
    const padded = Buffer.concat([Buffer.alloc(128), Buffer.from(weak.n as string, 'base64url')]).toString('base64url');
    const problems = validatePrivateSigningJwk({ ...weak, n: padded, kid: 'weak', alg: 'RS256' }, 'keys[0]');
    assert.deepEqual(problems, ['keys[0]: RSA keys must be at least 2048 bits']);
  });

  test('an ES256 key on another curve is refused', () => {
    for (const namedCurve of ['P-384', 'P-521', 'secp256k1']) {
      const problems = validatePrivateSigningJwk({ ...privateJwk('ec', { namedCurve }), kid: 'ec', alg: 'ES256' }, 'keys[1]');
      assert.deepEqual(problems, ['keys[1]: ES256 keys must be EC with crv P-256'], namedCurve);
    }
  });

  test('an EdDSA key that is not Ed25519, and keys whose type does not match alg, are refused', () => {
    assert.deepEqual(validatePrivateSigningJwk({ ...privateJwk('ed448'), kid: 'ed448', alg: 'EdDSA' }, 'k'), ['k: EdDSA keys must be OKP with crv Ed25519']);
    assert.deepEqual(validatePrivateSigningJwk({ ...ecP256(), alg: 'EdDSA' }, 'k'), ['k: EdDSA keys must be OKP with crv Ed25519']);
    assert.deepEqual(validatePrivateSigningJwk({ ...ed25519(), alg: 'ES256' }, 'k'), ['k: ES256 keys must be EC with crv P-256']);
    assert.deepEqual(validatePrivateSigningJwk({ ...ecP256(), alg: 'RS256' }, 'k'), ['k: RS256 keys must have kty RSA']);
  });

  test('a key without its private part ("d") is refused', () => {
    for (const key of [ed25519(), ecP256(), rsa2048()]) {
      const { d: _d, ...publicOnly } = key;
      assert.deepEqual(validatePrivateSigningJwk(publicOnly, 'keys[0]'), [
        'keys[0]: the private part ("d") is missing; the signing-key file holds private keys',
      ]);
    }
  });

  test('a missing or malformed kid is refused', () => {
    assert.deepEqual(validatePrivateSigningJwk({ ...ed25519(), kid: undefined }, 'k'), ['k: "kid" is required']);
    assert.deepEqual(validatePrivateSigningJwk({ ...ed25519(), kid: '' }, 'k'), ['k: "kid" is required']);
    assert.deepEqual(validatePrivateSigningJwk({ ...ed25519(), kid: 7 }, 'k'), ['k: "kid" is required']);
    for (const kid of ['../../etc/passwd', "' OR 1=1 --", 'a b', 'kid\n', 'é', 'k'.repeat(129)]) {
      assert.deepEqual(
        validatePrivateSigningJwk({ ...ed25519(), kid }, 'k'),
        ['k: "kid" may hold only letters, digits, ".", "_" and "-" (at most 128)'],
        JSON.stringify(kid),
      );
    }
  });

  test('an alg outside EdDSA / ES256 / RS256 is refused', () => {
    for (const alg of ['none', 'HS256', 'RS512', 'PS256', 'Ed25519', 'eddsa', undefined]) {
      assert.deepEqual(validatePrivateSigningJwk({ ...ed25519(), alg }, 'k'), ['k: "alg" must be one of EdDSA, ES256, RS256'], String(alg));
    }
  });

  test('use other than "sig" is refused', () => {
    assert.deepEqual(validatePrivateSigningJwk({ ...ed25519(), use: 'enc' }, 'k'), ['k: "use" must be "sig" when present']);
  });

  test('anything but a JSON object is refused', () => {
    for (const value of [null, undefined, 'key', 42, [ed25519()]]) {
      assert.deepEqual(validatePrivateSigningJwk(value, 'keys[3]'), ['keys[3]: must be a JSON object']);
    }
  });

  test('messages never carry the private key material', () => {
    const key = { ...privateJwk('rsa', { modulusLength: 1024 }), kid: 'bad kid', alg: 'RS256', use: 'enc' };
    const text = validatePrivateSigningJwk(key, 'keys[0]').join('\n');
    assert.ok(text.length > 0);
    for (const member of PRIVATE_MEMBERS) {
      const value = (key as Record<string, unknown>)[member];
      if (typeof value === 'string') assert.equal(text.includes(value), false, member);
    }
  });
});

describe('validatePrivateSigningJwk: accepted keys', () => {
  test('RSA 2048, EC P-256 and Ed25519 private keys pass', () => {
    assert.deepEqual(validatePrivateSigningJwk(rsa2048(), 'k'), []);
    assert.deepEqual(validatePrivateSigningJwk(ecP256(), 'k'), []);
    assert.deepEqual(validatePrivateSigningJwk(ed25519(), 'k'), []);
  });

  test('use may be absent; a 128-character kid passes', () => {
    const { use: _use, ...key } = ed25519();
    assert.deepEqual(validatePrivateSigningJwk({ ...key, kid: 'k'.repeat(128) }, 'k'), []);
  });
});

describe('toPublicJwk: never publishes a private member', () => {
  test('RSA: only kty, n, e (plus kid, alg, use)', () => {
    const key = rsa2048();
    const published = toPublicJwk(key);
    assert.deepEqual(published, { kty: 'RSA', n: key.n, e: key.e, kid: 'rsa-1', alg: 'RS256', use: 'sig' });
  });

  test('EC: only kty, crv, x, y (plus kid, alg, use)', () => {
    const key = ecP256();
    assert.deepEqual(toPublicJwk(key), { kty: 'EC', crv: 'P-256', x: key.x, y: key.y, kid: 'ec-1', alg: 'ES256', use: 'sig' });
  });

  test('OKP: only kty, crv, x (plus kid, alg, use)', () => {
    const key = ed25519();
    assert.deepEqual(toPublicJwk(key), { kty: 'OKP', crv: 'Ed25519', x: key.x, kid: 'ed-1', alg: 'EdDSA', use: 'sig' });
  });

  test('no private or unknown member survives, whatever else the input carries', () => {
    const extras = { k: 'secret', oth: [{ r: 'x' }], key_ops: ['sign'], ext: true, x5c: ['MII…'], private: 'yes', use: 'enc' };
    for (const key of [rsa2048(), ecP256(), ed25519()]) {
      const published = toPublicJwk({ ...key, ...extras }) as Record<string, unknown>;
      for (const member of [...PRIVATE_MEMBERS, 'key_ops', 'ext', 'x5c', 'private']) {
        assert.equal(member in published, false, `${key.kty}: ${member}`);
      }
      assert.equal(published.use, 'sig');
    }
  });

  test('a symmetric key cannot be published at all', () => {
    assert.throws(() => toPublicJwk({ kty: 'oct', k: 'c2VjcmV0', kid: 'hmac', alg: 'HS256' }), TypeError);
  });
});
