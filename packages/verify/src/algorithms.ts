import { createPublicKey, KeyObject, verify as cryptoVerify, webcrypto, type JsonWebKey } from 'node:crypto';

/** The JWS algorithms Gatehouse signs with (RFC 8037 EdDSA over Ed25519, RFC 7518 ES256 and RS256). */
export const ALGORITHMS = ['EdDSA', 'ES256', 'RS256'] as const;
export type Algorithm = (typeof ALGORITHMS)[number];

export function isAlgorithm(value: unknown): value is Algorithm {
  return typeof value === 'string' && (ALGORITHMS as readonly string[]).includes(value);
}

/** A public key as the verifier needs it; a `CryptoKey` (what jose and WebCrypto produce) is accepted too. */
export type PublicKeyLike = KeyObject | webcrypto.CryptoKey;

const keyObjects = new WeakMap<webcrypto.CryptoKey, KeyObject>();

/** The KeyObject behind a key, converted once per CryptoKey (the server's key set holds CryptoKeys; its signer converts its private key with this too). */
export function toKeyObject(key: PublicKeyLike): KeyObject {
  if (key instanceof KeyObject) return key;
  let found = keyObjects.get(key);
  if (found === undefined) {
    found = KeyObject.from(key);
    keyObjects.set(key, found);
  }
  return found;
}

/**
 * Checks a JWS signature with node:crypto's one-shot, synchronous `verify`. Why not jose's
 * `jwtVerify`: in Node it goes through WebCrypto, whose every call is an async job on the thread
 * pool; measured on Ed25519 that costs ~40 % of throughput against a plain `crypto.verify` loop,
 * and the verification core must stay within 0.8× of that ceiling (bench/sdk-verify.ts).
 */
export function verifySignature(alg: Algorithm, key: KeyObject, signingInput: Buffer, signature: Buffer): boolean {
  try {
    switch (alg) {
      case 'EdDSA':
        return key.asymmetricKeyType === 'ed25519' && cryptoVerify(null, signingInput, key, signature);
      case 'ES256':
        // JWS carries r || s (RFC 7518 §3.4), not DER.
        return key.asymmetricKeyType === 'ec' && cryptoVerify('sha256', signingInput, { key, dsaEncoding: 'ieee-p1363' }, signature);
      case 'RS256':
        return key.asymmetricKeyType === 'rsa' && cryptoVerify('sha256', signingInput, key, signature);
    }
  } catch {
    // A signature of the wrong length or a key of the wrong kind: simply not valid.
    return false;
  }
}

const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'] as const;
const MIN_RSA_BITS = 2048;

export type JwkImport =
  { readonly ok: true; readonly kid: string; readonly alg: Algorithm; readonly key: KeyObject } | { readonly ok: false; readonly reason: string };

/**
 * Imports one member of a JWKS for verification, or says why not. Only public keys whose `alg` is
 * allowed and agrees with the key type (RFC 8725 §3.1: never let the token or the key pick a weaker
 * algorithm): Ed25519 for EdDSA, P-256 for ES256, RSA ≥ 2048 bits for RS256. Symmetric (`oct`) keys
 * are refused outright: a published HMAC secret would let anyone mint tokens. Any private member
 * refuses the key, since a JWKS that leaks private parts is not one to trust.
 */
export function importPublicJwk(value: unknown, allowed: readonly Algorithm[]): JwkImport {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return { ok: false, reason: 'not a JSON object' };
  const jwk = value as Record<string, unknown>;
  if (jwk.kty === 'oct') return { ok: false, reason: 'symmetric (oct) key refused' };
  if (typeof jwk.kid !== 'string' || jwk.kid.length === 0 || jwk.kid.length > 256) return { ok: false, reason: 'kid missing' };
  for (const member of PRIVATE_MEMBERS) if (member in jwk) return { ok: false, reason: `private member "${member}" present` };
  if (!isAlgorithm(jwk.alg)) return { ok: false, reason: `alg missing or unsupported: ${String(jwk.alg).slice(0, 16)}` };
  if (!allowed.includes(jwk.alg)) return { ok: false, reason: `alg not allowed: ${jwk.alg}` };
  if (jwk.use !== undefined && jwk.use !== 'sig') return { ok: false, reason: 'use is not "sig"' };
  if (jwk.key_ops !== undefined && !(Array.isArray(jwk.key_ops) && jwk.key_ops.includes('verify')))
    return { ok: false, reason: 'key_ops does not allow verify' };
  const expected = { EdDSA: { kty: 'OKP', crv: 'Ed25519' }, ES256: { kty: 'EC', crv: 'P-256' }, RS256: { kty: 'RSA', crv: undefined } }[jwk.alg];
  if (jwk.kty !== expected.kty || jwk.crv !== expected.crv) return { ok: false, reason: `key type does not match alg ${jwk.alg}` };
  let key: KeyObject;
  try {
    const members = Object.fromEntries(Object.entries(jwk).filter(([name]) => ['kty', 'crv', 'x', 'y', 'n', 'e'].includes(name)));
    key = createPublicKey({ key: members as JsonWebKey, format: 'jwk' });
  } catch {
    return { ok: false, reason: 'key material does not import' };
  }
  if (jwk.alg === 'RS256' && (key.asymmetricKeyDetails?.modulusLength ?? 0) < MIN_RSA_BITS) return { ok: false, reason: `RSA key below ${MIN_RSA_BITS} bits` };
  return { ok: true, kid: jwk.kid, alg: jwk.alg, key };
}
