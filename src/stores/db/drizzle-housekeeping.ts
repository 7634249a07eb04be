import { sql, type SQL } from 'drizzle-orm';
import { REVOCATION_SLACK_MS } from '../../revocation/revocation-entry.js';
import type { PgColumn, PgTable } from 'drizzle-orm/pg-core';
import { runQuery, type Db } from './database.js';
import {
  auditEvents as auditEventsTable,
  deletedUsers as deletedUsersTable,
  emailCodes as emailCodesTable,
  revokedAccessTokens as revokedAccessTokensTable,
} from './schema.js';

const DAY = 86_400_000;
/**
 * The revocation mirror's slack (120 s) past a token's `exp`: the mirror loads deny-list entries
 * and revoked sessions that young, so housekeeping must not delete them any sooner.
 */
const SKEW_MS = REVOCATION_SLACK_MS;

export interface PurgeOptions {
  /**
   * Access-token lifetime. A session revoked more recently than this (plus 120 s of skew) may still
   * have access tokens out, and instances load revoked sessions from the table to refuse them, so
   * such a session is kept whatever `retentionMs` says.
   */
  readonly accessTokenTtlMs: number;
  /** Refresh grace window (0 = strict): seals of tokens spent longer ago than this are cleared. */
  readonly graceMs: number;
  /** How long a dead (expired or revoked) session is kept, for support and audit. Default 1 day. */
  readonly retentionMs?: number;
  /** Audit rows older than this are deleted (`GATEHOUSE_AUDIT_RETENTION_DAYS`); undefined keeps them all. */
  readonly auditRetentionMs?: number;
  /** Rows per statement. Default 500: each statement is short, so no lock is held for long. */
  readonly batchSize?: number;
}

/** A deleted account's revocation is served this long: past the longest access-token lifetime (1 h). */
const DELETED_USER_MEMORY_MS = 24 * 60 * 60 * 1000;

export interface PurgeCounts {
  /** Dead sessions deleted. */
  readonly sessions: number;
  /** Refresh tokens of those sessions, deleted before them. */
  readonly refreshTokens: number;
  /** Deny-list entries whose access token has expired. */
  readonly revokedAccessTokens: number;
  /** Sealed successors cleared because their grace window has passed. */
  readonly sealsCleared: number;
  /** Audit rows past their retention. */
  readonly auditEvents: number;
  /** Deleted accounts' tombstones older than a day (longer than any access token lives). */
  readonly deletedUsers: number;
  /** Email codes (password reset, confirmation) past their expiry: no read of a code ever returns one. */
  readonly emailCodes: number;
}

/**
 * Deletes what can no longer matter, in batches of `batchSize` rows, each batch its own short
 * statement (`… WHERE key IN (SELECT key … LIMIT n)`): no table lock, no long transaction, and the
 * store stops growing under churn. Removes:
 * - sessions dead (revoked, or past their absolute or idle expiry) for longer than
 *   max(retention, access-token lifetime + 120 s), and their refresh tokens;
 * - deny-list entries of access tokens expired more than 120 s ago;
 * - sealed successors (the value only, not the row) of tokens spent longer ago than the grace window;
 * - audit rows older than the audit retention, when one is given;
 * - deleted accounts' tombstones older than a day, and email codes past their expiry.
 *
 * Spent refresh tokens of live sessions are kept: a later presentation must still be seen as reuse.
 * Statements repeat their condition on the rows they change: under READ COMMITTED that condition is
 * re-checked on a row updated meanwhile, so a session revoked a moment ago is left alone.
 *
 * @example
 * const counts = await purgeExpired(db, new Date(), { accessTokenTtlMs: 900_000, graceMs: 0 });
 */
export async function purgeExpired(db: Db, now: Date, options: PurgeOptions): Promise<PurgeCounts> {
  const batchSize = options.batchSize ?? 500;
  if (!Number.isSafeInteger(batchSize) || batchSize < 1) throw new TypeError('batchSize must be a positive integer');
  const retentionMs = milliseconds('retentionMs', options.retentionMs ?? DAY);
  milliseconds('accessTokenTtlMs', options.accessTokenTtlMs);
  milliseconds('graceMs', options.graceMs);
  const at = (ms: number): SQL => sql`${new Date(now.getTime() - ms).toISOString()}::timestamptz`;
  const sessionCutoff = at(Math.max(retentionMs, options.accessTokenTtlMs + SKEW_MS));
  // Dead since before the cutoff. A revoked session counts from its revocation, even if it expired
  // long before: revoking it is what the instances' revocation mirror reads.
  const deadSession = (s: SQL): SQL =>
    sql`(${s}.revoked_at IS NULL OR ${s}.revoked_at < ${sessionCutoff})
      AND (${s}.revoked_at < ${sessionCutoff} OR ${s}.expires_at < ${sessionCutoff} OR ${s}.idle_expires_at < ${sessionCutoff})`;

  return runQuery(async () => {
    // Tokens first, so deleting a session never cascades into thousands of token rows at once.
    const refreshTokens = await inBatches(
      db,
      batchSize,
      (limit) => sql`
      DELETE FROM refresh_tokens WHERE digest IN (
        SELECT rt.digest FROM refresh_tokens AS rt JOIN sessions AS s ON s.id = rt.session_id
        WHERE ${deadSession(sql`s`)} LIMIT ${limit})
      RETURNING 1`,
    );
    const sessions = await inBatches(
      db,
      batchSize,
      (limit) => sql`
      DELETE FROM sessions WHERE id IN (SELECT s.id FROM sessions AS s WHERE ${deadSession(sql`s`)} LIMIT ${limit})
      AND ${deadSession(sql`sessions`)}
      RETURNING 1`,
    );
    /** Rows of `table` whose `column` is before `cutoff`, batched by `key`, the condition repeated on each row it deletes. */
    const deleteOlder = (table: PgTable, key: PgColumn, column: PgColumn, cutoff: SQL): Promise<number> =>
      inBatches(
        db,
        batchSize,
        (limit) => sql`
        DELETE FROM ${table} WHERE ${key} IN (SELECT ${key} FROM ${table} WHERE ${column} < ${cutoff} LIMIT ${limit})
        AND ${column} < ${cutoff}
        RETURNING 1`,
      );
    const revokedAccessTokens = await deleteOlder(revokedAccessTokensTable, revokedAccessTokensTable.jti, revokedAccessTokensTable.expiresAt, at(SKEW_MS));
    // Also with the window at 0: seals written before it was turned off must not outlive it.
    const sealCutoff = at(options.graceMs);
    const sealsCleared = await inBatches(
      db,
      batchSize,
      (limit) => sql`
      UPDATE refresh_tokens SET successor_sealed = NULL WHERE digest IN (
        SELECT digest FROM refresh_tokens WHERE successor_sealed IS NOT NULL AND spent_at < ${sealCutoff} LIMIT ${limit})
      AND successor_sealed IS NOT NULL AND spent_at < ${sealCutoff}
      RETURNING 1`,
    );
    let auditEvents = 0;
    if (options.auditRetentionMs !== undefined) {
      const auditCutoff = at(milliseconds('auditRetentionMs', options.auditRetentionMs));
      auditEvents = await deleteOlder(auditEventsTable, auditEventsTable.id, auditEventsTable.occurredAt, auditCutoff);
    }
    const deletedUsers = await deleteOlder(deletedUsersTable, deletedUsersTable.id, deletedUsersTable.deletedAt, at(DELETED_USER_MEMORY_MS));
    // Every read of an email code asks for an unexpired one, so an expired code is only weight.
    const emailCodes = await deleteOlder(emailCodesTable, emailCodesTable.digest, emailCodesTable.expiresAt, at(0));
    return { sessions, refreshTokens, revokedAccessTokens, sealsCleared, auditEvents, deletedUsers, emailCodes };
  });
}

function milliseconds(name: string, value: number): number {
  if (!Number.isSafeInteger(value) || value < 0) throw new TypeError(`${name} must be a non-negative integer of milliseconds`);
  return value;
}

/** Runs the statement until a batch comes back short; returns the rows it touched in all. */
async function inBatches(db: Db, batchSize: number, statement: (limit: number) => SQL): Promise<number> {
  let total = 0;
  for (;;) {
    const result = await db.execute(statement(batchSize));
    const touched = (result as unknown as { rows: unknown[] }).rows.length;
    total += touched;
    if (touched < batchSize) return total;
  }
}
