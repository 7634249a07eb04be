import type { AccessTokenClaims } from '../tokens/access-token-claims.js';

/**
 * One fact that makes access tokens invalid before their `exp`. Each is useful only until `until`
 * (epoch ms): after that every token it could match has expired anyway, which keeps the in-process
 * list bounded by the revocations of one access-token lifetime.
 */
export type RevocationEntry =
  /** Per token (RFC 7009): the token with this `jti`. */
  | { readonly kind: 'token'; readonly id: string; readonly until: number }
  /** Per session: every token with this `sid` (logout, device revoke, refresh-token reuse). */
  | { readonly kind: 'session'; readonly id: string; readonly until: number }
  /** Per user: every token of this `sub` whose `tver` is below `version` (log out everywhere, lock). */
  | { readonly kind: 'user'; readonly id: string; readonly version: number; readonly until: number };

/** Why a token is revoked, for the log; undefined when it is not. */
export type RevocationCheck = (claims: Pick<AccessTokenClaims, 'jti' | 'sid' | 'sub' | 'tver'>) => string | undefined;

/**
 * How long past a token's `exp` (or a session's last possible token) a revocation is kept: more
 * than the verifier's clock tolerance plus the clock skew between instances.
 */
export const REVOCATION_SLACK_MS = 120_000;

const MAX_MESSAGE_ENTRIES = 10_000;

/** Entries as they travel between instances (pub/sub). */
export function encodeEntries(entries: readonly RevocationEntry[]): string {
  return JSON.stringify(entries);
}

/**
 * Reads a pub/sub message. Anything malformed yields no entries rather than an exception: a bad
 * message must not take the subscriber down (the periodic resync still brings the truth).
 */
export function decodeEntries(message: string): RevocationEntry[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(message);
  } catch {
    return [];
  }
  if (!Array.isArray(parsed) || parsed.length > MAX_MESSAGE_ENTRIES) return [];
  return parsed.filter(isEntry);
}

function isEntry(value: unknown): value is RevocationEntry {
  if (typeof value !== 'object' || value === null) return false;
  const e = value as Record<string, unknown>;
  if (typeof e.id !== 'string' || e.id.length === 0 || e.id.length > 128 || typeof e.until !== 'number' || !Number.isFinite(e.until)) return false;
  if (e.kind === 'token' || e.kind === 'session') return true;
  return e.kind === 'user' && Number.isSafeInteger(e.version) && (e.version as number) > 0;
}
