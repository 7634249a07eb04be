import type { AuditRecord } from '../audit/audit-event.js';
import type { RevocationEntry } from './revocation-entry.js';

/** The last entry of a page: the next page starts after it. */
export interface RevocationCursor {
  readonly kind: RevocationEntry['kind'];
  readonly id: string;
}

/**
 * The durable record of revocations, written in the same transaction as the change it records
 * where there is one (a revoked session is its `revoked_at`). Instances load it at start and after
 * any doubt about their pub/sub feed, so nothing revoked becomes valid again after a restart or a
 * Redis outage.
 */
export interface RevocationStore {
  /** Every revocation still able to reject a token at `now`; `windowMs` is how long a session or user revocation matters. */
  loadLive(now: Date, windowMs: number): Promise<RevocationEntry[]>;
  /**
   * One page of the same live state for resource servers catching up (`GET /revocations`), with
   * revoked signing keys too, in (kind, id) order after `after`: at most `limit` entries and
   * whether more follow. Keyset order, not an offset, so rows added meanwhile cannot shift a page.
   */
  pageLive(now: Date, windowMs: number, after: RevocationCursor | undefined, limit: number): Promise<{ entries: RevocationEntry[]; more: boolean }>;
  /** Adds an access token to the deny-list until its `exp`. Idempotent. */
  denyAccessToken(jti: string, expiresAt: Date, now: Date, audit?: readonly AuditRecord[]): Promise<void>;
}
