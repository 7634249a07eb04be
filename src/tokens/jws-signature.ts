import { sign as cryptoSign, type webcrypto } from 'node:crypto';
import { toKeyObject } from '@gatehouse/verify/internal';
import type { SigningAlgorithm } from '../keys/jwk-validation.js';

/**
 * Compact JWS signing (RFC 7515 §7.1) with node:crypto's one-shot, synchronous `sign`. Why not
 * jose's `SignJWT`: in Node it signs through WebCrypto, an async job on the thread pool per token,
 * and that job was 6 % of the CPU of a refresh rotation on the embedded store (the verifier skips
 * WebCrypto for the same reason, packages/verify/src/algorithms.ts). jose still imports, validates
 * and generates every key; this only turns bytes into a signature. Tests verify what it produces
 * with jose and PyJWT.
 */

const encode = (value: object): string => Buffer.from(JSON.stringify(value)).toString('base64url');

/** `<header>.<payload>.<signature>`, base64url without padding; `header.alg` is `alg`. */
export function signCompactJws(alg: SigningAlgorithm, key: webcrypto.CryptoKey, header: Readonly<Record<string, unknown>>, payload: object): string {
  const signingInput = `${encode({ ...header, alg })}.${encode(payload)}`;
  // The SDK's one conversion, cached per CryptoKey (the verifier converts the public halves with it).
  const privateKey = toKeyObject(key);
  if (privateKey.type !== 'private') throw new TypeError('a JWS is signed with a private key');
  const data = Buffer.from(signingInput);
  let signature: Buffer;
  switch (alg) {
    case 'EdDSA':
      signature = cryptoSign(null, data, privateKey);
      break;
    case 'ES256':
      // JWS carries r || s (RFC 7518 §3.4), not DER.
      signature = cryptoSign('sha256', data, { key: privateKey, dsaEncoding: 'ieee-p1363' });
      break;
    case 'RS256':
      signature = cryptoSign('sha256', data, privateKey);
      break;
  }
  return `${signingInput}.${signature.toString('base64url')}`;
}
