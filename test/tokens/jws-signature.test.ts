import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { decodeProtectedHeader, importJWK, jwtVerify, type CryptoKey } from 'jose';
import { generatePrivateJwk } from '../../src/keys/key-generation.js';
import { toPublicJwk, SigningAlgorithms } from '../../src/keys/jwk-validation.js';
import { createKeySet } from '../../src/keys/key-set.js';
import { signCompactJws } from '../../src/tokens/jws-signature.js';

const claims = { iss: 'https://issuer.test', sub: 'someone', aud: 'https://issuer.test', iat: 1, exp: 4_102_444_800, jti: 'j' };

describe('compact JWS signing on node:crypto', () => {
  for (const alg of SigningAlgorithms) {
    test(`${alg}: jose verifies what it signs, under the key's alg, and a changed byte fails`, async () => {
      const jwk = await generatePrivateJwk(alg, { nowMs: Date.now() });
      const { signer } = await createKeySet([jwk]);
      const publicKey = (await importJWK(toPublicJwk(jwk), alg)) as CryptoKey;
      const token = signCompactJws(signer.alg, signer.key, { kid: signer.kid, typ: 'at+jwt' }, claims);
      const { payload, protectedHeader } = await jwtVerify(token, publicKey, { algorithms: [alg], typ: 'at+jwt', issuer: claims.iss, audience: claims.aud });
      assert.deepEqual(protectedHeader, { kid: signer.kid, typ: 'at+jwt', alg });
      assert.deepEqual(payload, claims);
      if (alg === 'ES256') assert.equal(Buffer.from(token.split('.')[2]!, 'base64url').length, 64, 'r || s, not DER (RFC 7518 §3.4)');
      const [h, , s] = token.split('.') as [string, string, string];
      const forged = `${h}.${Buffer.from(JSON.stringify({ ...claims, sub: 'admin' })).toString('base64url')}.${s}`;
      await assert.rejects(jwtVerify(forged, publicKey, { algorithms: [alg] }), /signature verification failed/);
    });
  }

  test('a header cannot choose the algorithm: the key signs under its own alg', async () => {
    const jwk = await generatePrivateJwk('EdDSA', { nowMs: Date.now() });
    const { signer } = await createKeySet([jwk]);
    const token = signCompactJws(signer.alg, signer.key, { alg: 'none', kid: signer.kid }, claims);
    assert.equal(decodeProtectedHeader(token).alg, 'EdDSA');
  });

  test('a public key does not sign', async () => {
    const jwk = await generatePrivateJwk('EdDSA', { nowMs: Date.now() });
    const publicKey = (await importJWK(toPublicJwk(jwk), 'EdDSA')) as CryptoKey;
    assert.throws(() => signCompactJws('EdDSA', publicKey, {}, claims), TypeError);
  });
});
