import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createLocalJWKSet, exportJWK, generateKeyPair, jwtVerify, type JWK } from 'jose';
import { generateSigningJwk } from '../../src/keys/development-keys.js';
import type { PrivateSigningJwk } from '../../src/keys/signing-key-file.js';
import { startTestApp, TEST_ISSUER, type TestApp } from '../support/test-app.js';

const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'k', 'oth'];
const PUBLIC_MEMBERS: Record<string, readonly string[]> = {
  OKP: ['alg', 'crv', 'kid', 'kty', 'use', 'x'],
  EC: ['alg', 'crv', 'kid', 'kty', 'use', 'x', 'y'],
  RSA: ['alg', 'e', 'kid', 'kty', 'n', 'use'],
};

describe('GET /.well-known/jwks.json', () => {
  let t: TestApp;
  let keys: PrivateSigningJwk[];
  before(async () => {
    const es = await generateKeyPair('ES256', { extractable: true });
    const rs = await generateKeyPair('RS256', { extractable: true, modulusLength: 2048 });
    keys = [
      await generateSigningJwk(),
      { ...(await exportJWK(es.privateKey)), kid: 'es-1', alg: 'ES256', use: 'sig' },
      { ...(await exportJWK(rs.privateKey)), kid: 'rs-1', alg: 'RS256', use: 'sig' },
    ];
    t = await startTestApp({ overrides: { signingKeys: keys } });
  });
  after(() => t.close());

  test('publishes every key (OKP, EC, RSA) with public members only', async () => {
    const res = await t.inject({ method: 'GET', url: '/.well-known/jwks.json' });
    assert.equal(res.statusCode, 200);
    const body = res.json() as { keys: JWK[] };
    assert.deepEqual(Object.keys(body), ['keys']);
    assert.deepEqual(
      body.keys.map((k) => k.kid),
      keys.map((k) => k.kid),
    );
    for (const published of body.keys) {
      assert.deepEqual(Object.keys(published).sort(), PUBLIC_MEMBERS[published.kty as string], published.kid);
      for (const member of PRIVATE_MEMBERS) assert.equal(member in published, false, `${published.kid}: ${member}`);
    }
    for (const key of keys) {
      assert.equal(res.body.includes(key.d as string), false, `the private part of ${key.kid} is not in the body`);
    }
  });

  test('is cacheable for a bounded time and typed as a JWK set', async () => {
    const res = await t.inject({ method: 'GET', url: '/.well-known/jwks.json' });
    assert.equal(res.headers['cache-control'], 'public, max-age=300');
    assert.match(String(res.headers['content-type']), /^application\/jwk-set\+json/);
  });

  test('needs no credential, and a token the app issued verifies against it', async () => {
    await t.register('jwks-user');
    const { access_token: token } = await t.login('jwks-user');
    const res = await t.inject({ method: 'GET', url: '/.well-known/jwks.json' });
    const { payload, protectedHeader } = await jwtVerify(token, createLocalJWKSet(res.json()), { issuer: TEST_ISSUER, typ: 'at+jwt' });
    assert.equal(protectedHeader.kid, keys[0]?.kid);
    assert.equal(typeof payload.sub, 'string');
  });
});
