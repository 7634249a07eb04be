import { decodeRevocationMessage, type RevocableClaims, type RevocationEntry } from '@gatehouse/verify/internal';

/**
 * One fact that makes access tokens invalid before their `exp` (per token, per session, per user
 * below a token version), useful only until `until` (epoch ms). The type and the decoder are the
 * SDK's, so resource servers read the feed exactly as the instances do.
 */
export type { RevocationEntry };

/** What a revocation can match in a token (`jti`, `sid`, `sub` with `tver`, `akid`); the SDK's too. */
export type { RevocableClaims };

/**
 * How long past a token's `exp` (or a session's last possible token) a revocation is kept: more
 * than the verifier's clock tolerance plus the clock skew between instances.
 */
export const REVOCATION_SLACK_MS = 120_000;

/** Entries as they travel between instances (pub/sub). */
export function encodeEntries(entries: readonly RevocationEntry[]): string {
  return JSON.stringify(entries);
}

/**
 * Reads a pub/sub message. Anything malformed yields no entries rather than an exception: a bad
 * message must not take the subscriber down (the periodic resync still brings the truth).
 */
export const decodeEntries: (message: string) => RevocationEntry[] = decodeRevocationMessage;
