import { createHash, randomBytes } from 'node:crypto';

/** Recognisable prefix so secret scanners can find leaked refresh tokens. */
export const REFRESH_TOKEN_PREFIX = 'ghr_';
const SHAPE = /^ghr_[A-Za-z0-9_-]{43}$/;

/** A new opaque refresh token: 256 bits from the CSPRNG, base64url, prefixed. */
export function generateRefreshToken(): string {
  return `${REFRESH_TOKEN_PREFIX}${randomBytes(32).toString('base64url')}`;
}

/** Only the digest is stored: a database leak does not leak usable tokens. */
export function digestRefreshToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/** Cheap shape check before any store lookup: access tokens, garbage and truncations stop here. */
export function isRefreshTokenShaped(value: string): boolean {
  return SHAPE.test(value);
}
