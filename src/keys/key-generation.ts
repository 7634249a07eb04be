import { calculateJwkThumbprint, exportJWK, generateKeyPair } from 'jose';
import type { SigningAlgorithm } from './jwk-validation.js';
import type { PrivateSigningJwk } from './signing-key-file.js';

export const MIN_RSA_BITS = 2048;
export const DEFAULT_ALGORITHM: SigningAlgorithm = 'EdDSA';

/**
 * A fresh private signing JWK of `alg` with an RFC 7638 thumbprint as `kid` and its creation time
 * as `iat` (seconds; read by the key-age metric). RS256 keys have at least 2048 bits.
 *
 * @example
 * const jwk = await generatePrivateJwk('ES256', { nowMs: Date.now() });
 */
export async function generatePrivateJwk(alg: SigningAlgorithm, options: { nowMs: number; rsaBits?: number }): Promise<PrivateSigningJwk> {
  const rsaBits = options.rsaBits ?? MIN_RSA_BITS;
  if (alg === 'RS256' && (!Number.isSafeInteger(rsaBits) || rsaBits < MIN_RSA_BITS || rsaBits > 8192 || rsaBits % 8 !== 0)) {
    throw new TypeError(`RSA keys need ${MIN_RSA_BITS} to 8192 bits, a multiple of 8`);
  }
  const { privateKey } =
    alg === 'EdDSA'
      ? await generateKeyPair('EdDSA', { crv: 'Ed25519', extractable: true })
      : alg === 'ES256'
        ? await generateKeyPair('ES256', { extractable: true })
        : await generateKeyPair('RS256', { modulusLength: rsaBits, extractable: true });
  const jwk = await exportJWK(privateKey);
  const kid = await calculateJwkThumbprint(jwk);
  // `iat` is not a JWK member jose types, but the key-age metric reads it (see jwkCreatedAtMs).
  return { ...jwk, kid, alg, use: 'sig', iat: Math.floor(options.nowMs / 1000) } as PrivateSigningJwk;
}
