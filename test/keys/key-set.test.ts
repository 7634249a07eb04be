import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { exportJWK, generateKeyPair, importJWK, jwtVerify, SignJWT } from 'jose';
import { generateSigningJwk } from '../../src/keys/development-keys.js';
import { createKeySet } from '../../src/keys/key-set.js';
import type { PrivateSigningJwk } from '../../src/keys/signing-key-file.js';

let ed: PrivateSigningJwk;
let es: PrivateSigningJwk;
let rs: PrivateSigningJwk;

before(async () => {
  ed = await generateSigningJwk();
  const esPair = await generateKeyPair('ES256', { extractable: true });
  es = { ...(await exportJWK(esPair.privateKey)), kid: 'es-1', alg: 'ES256', use: 'sig' };
  const rsPair = await generateKeyPair('RS256', { extractable: true, modulusLength: 2048 });
  rs = { ...(await exportJWK(rsPair.privateKey)), kid: 'rs-1', alg: 'RS256', use: 'sig' };
});

const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'k', 'oth'];

describe('createKeySet: refusals', () => {
  test('an empty key list is refused', async () => {
    await assert.rejects(createKeySet([]), TypeError);
  });

  test('two keys with one kid are refused', async () => {
    await assert.rejects(createKeySet([ed, { ...es, kid: ed.kid }]), /duplicate kid/);
  });
});

describe('createKeySet: the first key signs, every key verifies', () => {
  test('the signer is the first key, holding its private key', async () => {
    const keys = await createKeySet([es, ed, rs]);
    assert.equal(keys.signer.kid, es.kid);
    assert.equal(keys.signer.alg, 'ES256');
    assert.equal(keys.signer.key.type, 'private');
  });

  test('a token from each key verifies with the key found by its kid; the found keys are public only', async () => {
    const keys = await createKeySet([ed, es, rs]);
    for (const jwk of [ed, es, rs]) {
      const signingKey = await importJWK(jwk, jwk.alg);
      const token = await new SignJWT({ sub: jwk.kid }).setProtectedHeader({ alg: jwk.alg, kid: jwk.kid }).sign(signingKey);
      const found = keys.find(jwk.kid);
      assert.ok(found !== undefined, jwk.kid);
      assert.equal(found.alg, jwk.alg);
      assert.equal(found.key.type, 'public');
      const { payload } = await jwtVerify(token, found.key, { algorithms: [jwk.alg] });
      assert.equal(payload.sub, jwk.kid);
    }
  });

  test('a token from one key does not verify with another', async () => {
    const keys = await createKeySet([ed, es]);
    const token = await new SignJWT({}).setProtectedHeader({ alg: 'EdDSA' }).sign(keys.signer.key);
    const other = await generateSigningJwk();
    const otherSet = await createKeySet([other]);
    await assert.rejects(jwtVerify(token, otherSet.find(other.kid)!.key, { algorithms: ['EdDSA'] }));
  });

  test('the pinned algorithms are exactly those of the keys, once each', async () => {
    assert.deepEqual([...(await createKeySet([ed])).algorithms], ['EdDSA']);
    assert.deepEqual([...(await createKeySet([ed, es, rs, await generateSigningJwk()])).algorithms], ['EdDSA', 'ES256', 'RS256']);
  });

  test('unknown kids, including object-prototype names, find nothing', async () => {
    const keys = await createKeySet([ed]);
    for (const kid of ['nope', '', '__proto__', 'constructor', 'toString', 'hasOwnProperty']) {
      assert.equal(keys.find(kid), undefined, kid);
    }
  });
});

describe('createKeySet: the JWKS document', () => {
  test('lists every key with public members only, in order', async () => {
    const keys = await createKeySet([ed, es, rs]);
    assert.deepEqual(
      keys.publicJwks.keys.map((k) => k.kid),
      [ed.kid, es.kid, rs.kid],
    );
    for (const published of keys.publicJwks.keys) {
      for (const member of PRIVATE_MEMBERS) assert.equal(member in published, false, `${published.kid}: ${member}`);
      assert.equal(published.use, 'sig');
    }
    assert.deepEqual(Object.keys(keys.publicJwks.keys[0]!).sort(), ['alg', 'crv', 'kid', 'kty', 'use', 'x']);
    assert.deepEqual(Object.keys(keys.publicJwks.keys[1]!).sort(), ['alg', 'crv', 'kid', 'kty', 'use', 'x', 'y']);
    assert.deepEqual(Object.keys(keys.publicJwks.keys[2]!).sort(), ['alg', 'e', 'kid', 'kty', 'n', 'use']);
  });

  test('the key set and its JWKS cannot be changed after creation', async () => {
    const keys = await createKeySet([ed]);
    assert.ok(Object.isFrozen(keys));
    assert.ok(Object.isFrozen(keys.publicJwks));
    assert.ok(Object.isFrozen(keys.publicJwks.keys));
    assert.ok(Object.isFrozen(keys.publicJwks.keys[0]));
    assert.ok(Object.isFrozen(keys.algorithms));
    assert.throws(() => (keys.publicJwks.keys as unknown[]).push({ kty: 'oct', k: 'x' }), TypeError);
  });
});
