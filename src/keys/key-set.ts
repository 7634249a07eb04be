import { importJWK, type CryptoKey, type JWK } from 'jose';
import type { VerificationKey as CoreVerificationKey } from '@gatehouse/verify/internal';
import { toPublicJwk, type SigningAlgorithm } from './jwk-validation.js';

/** The SDK's verification key, narrowed to what the server's own key set holds. */
export interface VerificationKey extends CoreVerificationKey {
  readonly alg: SigningAlgorithm;
  readonly key: CryptoKey;
}

export interface SigningKey extends VerificationKey {}

/**
 * The keys this Gatehouse signs and verifies with. The first key signs; every key verifies.
 * Verification only ever looks keys up here by `kid`: headers such as `jwk`, `jku`, `x5u` and
 * `x5c` are never consulted (RFC 8725 §3.10).
 */
export interface KeySet {
  readonly signer: SigningKey;
  /** Pinned algorithms: exactly those of the configured keys. */
  readonly algorithms: readonly SigningAlgorithm[];
  find(kid: string): VerificationKey | undefined;
  /** The JWKS document: public members only. */
  readonly publicJwks: { readonly keys: readonly JWK[] };
}

type PrivateJwk = JWK & { kid: string; alg: SigningAlgorithm };

/** Builds a key set from already-validated private JWKs (see `validatePrivateSigningJwk`). */
export async function createKeySet(privateJwks: readonly PrivateJwk[]): Promise<KeySet> {
  if (privateJwks.length === 0) throw new TypeError('a key set needs at least one key');
  const seen = new Set<string>();
  const verifiers = new Map<string, VerificationKey>();
  let signer: SigningKey | undefined;
  for (const jwk of privateJwks) {
    if (seen.has(jwk.kid)) throw new TypeError(`duplicate kid ${jwk.kid}`);
    seen.add(jwk.kid);
    const publicJwk = toPublicJwk(jwk);
    const publicKey = (await importJWK(publicJwk, jwk.alg)) as CryptoKey;
    verifiers.set(jwk.kid, Object.freeze({ kid: jwk.kid, alg: jwk.alg, key: publicKey }));
    if (signer === undefined) {
      const privateKey = (await importJWK(jwk, jwk.alg)) as CryptoKey;
      signer = Object.freeze({ kid: jwk.kid, alg: jwk.alg, key: privateKey });
    }
  }
  const algorithms = Object.freeze([...new Set(privateJwks.map((k) => k.alg))]);
  const publicJwks = Object.freeze({ keys: Object.freeze(privateJwks.map((k) => Object.freeze(toPublicJwk(k)))) });
  return Object.freeze({
    signer: signer as SigningKey,
    algorithms,
    find: (kid: string) => verifiers.get(kid),
    publicJwks,
  });
}
