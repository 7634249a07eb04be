import type { JWK } from 'jose';

/** The algorithms Gatehouse signs with. Symmetric keys are refused: a verifier holding one could mint tokens. */
export const SigningAlgorithms = ['EdDSA', 'ES256', 'RS256'] as const;
export type SigningAlgorithm = (typeof SigningAlgorithms)[number];

const MIN_RSA_BITS = 2048;

/** Public members per key type (RFC 7518 §6, RFC 8037 §2). Anything else never leaves the process. */
const PUBLIC_MEMBERS: Readonly<Record<string, readonly string[]>> = {
  OKP: ['kty', 'crv', 'x'],
  EC: ['kty', 'crv', 'x', 'y'],
  RSA: ['kty', 'n', 'e'],
};

/** Bit length of a base64url big-endian unsigned integer; leading zero bytes do not count. */
function base64UrlBitLength(value: string): number {
  const bytes = Buffer.from(value, 'base64url');
  const first = bytes.findIndex((b) => b !== 0);
  if (first === -1) return 0;
  return (bytes.length - first - 1) * 8 + (32 - Math.clz32(bytes[first] as number));
}

function isString(value: unknown): value is string {
  return typeof value === 'string' && value.length > 0;
}

/**
 * Checks one private JWK of a signing-key file. Returns human-readable problems (empty when fine);
 * `where` names the key in messages, e.g. `keys[0]`.
 */
export function validatePrivateSigningJwk(jwk: unknown, where: string): string[] {
  if (typeof jwk !== 'object' || jwk === null || Array.isArray(jwk)) return [`${where}: must be a JSON object`];
  const key = jwk as Record<string, unknown>;
  const problems: string[] = [];
  if (!isString(key.kid)) problems.push(`${where}: "kid" is required`);
  else if (!/^[A-Za-z0-9._-]{1,128}$/.test(key.kid)) problems.push(`${where}: "kid" may hold only letters, digits, ".", "_" and "-" (at most 128)`);

  if (key.kty === 'oct') {
    problems.push(`${where}: symmetric ("oct") keys are not accepted; use EdDSA (Ed25519), ES256 or RS256`);
    return problems;
  }
  if (!isString(key.alg) || !(SigningAlgorithms as readonly string[]).includes(key.alg)) {
    problems.push(`${where}: "alg" must be one of ${SigningAlgorithms.join(', ')}`);
    return problems;
  }
  if (key.use !== undefined && key.use !== 'sig') problems.push(`${where}: "use" must be "sig" when present`);

  switch (key.alg as SigningAlgorithm) {
    case 'EdDSA':
      if (key.kty !== 'OKP' || key.crv !== 'Ed25519') problems.push(`${where}: EdDSA keys must be OKP with crv Ed25519`);
      break;
    case 'ES256':
      if (key.kty !== 'EC' || key.crv !== 'P-256') problems.push(`${where}: ES256 keys must be EC with crv P-256`);
      break;
    case 'RS256':
      if (key.kty !== 'RSA') problems.push(`${where}: RS256 keys must have kty RSA`);
      else if (!isString(key.n) || base64UrlBitLength(key.n) < MIN_RSA_BITS) {
        problems.push(`${where}: RSA keys must be at least ${MIN_RSA_BITS} bits`);
      }
      break;
  }
  if (!isString(key.d)) problems.push(`${where}: the private part ("d") is missing; the signing-key file holds private keys`);
  return problems;
}

/** The publishable form of a key: public members plus kid, alg and use — never `d`, `p`, `q`, `k`, … */
export function toPublicJwk(jwk: JWK & { kid: string; alg: string }): JWK {
  const members = PUBLIC_MEMBERS[jwk.kty ?? ''];
  if (members === undefined) throw new TypeError(`unsupported key type ${String(jwk.kty)}`);
  const out: Record<string, unknown> = {};
  for (const m of members) out[m] = (jwk as Record<string, unknown>)[m];
  out.kid = jwk.kid;
  out.alg = jwk.alg;
  out.use = 'sig';
  return out as JWK;
}
