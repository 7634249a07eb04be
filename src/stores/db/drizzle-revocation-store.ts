import { and, asc, gt, isNotNull, type SQL } from 'drizzle-orm';
import type { PgColumn, PgSelect } from 'drizzle-orm/pg-core';
import { REVOCATION_SLACK_MS, type RevocationEntry } from '../../revocation/revocation-entry.js';
import type { RevocationStore } from '../../revocation/revocation-store.js';
import { runQuery, type Db } from './database.js';
import { insertAudit } from './drizzle-audit-log.js';
import { deletedUsers, revokedAccessTokens, sessions, signingKeys, users } from './schema.js';

type Kind = RevocationEntry['kind'];
/** One kind's live rows, in id order after `afterId`, at most `limit` (undefined: all). */
type LiveQuery = (now: Date, windowMs: number, afterId: string | undefined, limit: number | undefined) => Promise<RevocationEntry[]>;

/** Two id-ordered queries of one kind as one: each asked for the page, merged, cut to the page. */
function mergedById(a: LiveQuery, b: LiveQuery): LiveQuery {
  return async (now, windowMs, afterId, limit) => {
    const [left, right] = await Promise.all([a(now, windowMs, afterId, limit), b(now, windowMs, afterId, limit)]);
    const merged = [...left, ...right].sort((x, y) => (x.id < y.id ? -1 : x.id > y.id ? 1 : 0));
    return limit === undefined ? merged : merged.slice(0, limit);
  };
}

/** The page order of kinds (alphabetical, so the cursor order is plain to see). */
const PAGE_ORDER: readonly Kind[] = ['key', 'session', 'token', 'user'];

/**
 * RevocationStore over the tables that already hold the facts: a revoked session is its
 * `sessions.revoked_at`, a per-user revocation is `users.token_version` bumped at
 * `tokens_revoked_at`, a revoked signing key its `signing_keys.revoked_at`, and only per-token
 * revocations need their own table. So a logout or a password change is durable in the very
 * transaction that makes it.
 */
export function createDrizzleRevocationStore(db: Db): RevocationStore {
  /** `live` plus the keyset condition, ordered by `id`, limited when asked (drizzle's dynamic query building). */
  const keyset = <T extends PgSelect>(query: T, live: SQL | undefined, id: PgColumn, afterId: string | undefined, limit: number | undefined): T => {
    const ordered = query.where(afterId === undefined ? live : and(live, gt(id, afterId))).orderBy(asc(id));
    return limit === undefined ? ordered : ordered.limit(limit);
  };
  /** Rows revoked within the window (`revokedAt` set and younger than it); each lives until revokedAt + window. */
  const revokedWithin =
    <T extends PgSelect>(select: () => T, revokedAt: PgColumn, id: PgColumn, toEntry: (row: Awaited<T>[number], until: number) => RevocationEntry): LiveQuery =>
    async (now, windowMs, afterId, limit) => {
      const rows: Awaited<T> = await keyset(select(), and(isNotNull(revokedAt), gt(revokedAt, new Date(now.getTime() - windowMs))), id, afterId, limit);
      return rows.map((row: Awaited<T>[number]) => toEntry(row, (row as { revokedAt: Date }).revokedAt.getTime() + windowMs));
    };

  const live: Record<Kind, LiveQuery> = {
    token: async (now, _windowMs, afterId, limit) =>
      (
        await keyset(
          db.select({ jti: revokedAccessTokens.jti, expiresAt: revokedAccessTokens.expiresAt }).from(revokedAccessTokens).$dynamic(),
          gt(revokedAccessTokens.expiresAt, new Date(now.getTime() - REVOCATION_SLACK_MS)),
          revokedAccessTokens.jti,
          afterId,
          limit,
        )
      ).map((t) => ({ kind: 'token', id: t.jti, until: t.expiresAt.getTime() + REVOCATION_SLACK_MS })),
    session: revokedWithin(
      () => db.select({ id: sessions.id, revokedAt: sessions.revokedAt }).from(sessions).$dynamic(),
      sessions.revokedAt,
      sessions.id,
      (s, until) => ({ kind: 'session', id: s.id, until }),
    ),
    user: mergedById(
      revokedWithin(
        () => db.select({ id: users.id, version: users.tokenVersion, revokedAt: users.tokensRevokedAt }).from(users).$dynamic(),
        users.tokensRevokedAt,
        users.id,
        (u, until) => ({ kind: 'user', id: u.id, version: u.version, until }),
      ),
      // A deleted account's last token version (users and deleted_users never share an id).
      revokedWithin(
        () => db.select({ id: deletedUsers.id, version: deletedUsers.tokenVersion, revokedAt: deletedUsers.deletedAt }).from(deletedUsers).$dynamic(),
        deletedUsers.deletedAt,
        deletedUsers.id,
        (u, until) => ({ kind: 'user', id: u.id, version: u.version, until }),
      ),
    ),
    // Kept as long as an announcement on the feed is (Revocations.announceSigningKeyRevoked).
    key: revokedWithin(
      () => db.select({ id: signingKeys.kid, revokedAt: signingKeys.revokedAt }).from(signingKeys).$dynamic(),
      signingKeys.revokedAt,
      signingKeys.kid,
      (k, until) => ({ kind: 'key', id: k.id, until }),
    ),
  };

  return {
    // The instances' own state: key revocations reach them through their key sets instead.
    loadLive: (now, windowMs) =>
      runQuery(async () =>
        (
          await Promise.all([
            live.token(now, windowMs, undefined, undefined),
            live.session(now, windowMs, undefined, undefined),
            live.user(now, windowMs, undefined, undefined),
          ])
        ).flat(),
      ),

    pageLive: (now, windowMs, after, limit) =>
      runQuery(async () => {
        const entries: RevocationEntry[] = [];
        const start = after === undefined ? 0 : PAGE_ORDER.indexOf(after.kind);
        // One more than asked for tells whether another page follows.
        for (const kind of PAGE_ORDER.slice(start)) {
          if (entries.length > limit) break;
          entries.push(...(await live[kind](now, windowMs, after?.kind === kind ? after.id : undefined, limit + 1 - entries.length)));
        }
        return { entries: entries.slice(0, limit), more: entries.length > limit };
      }),

    denyAccessToken: (jti, expiresAt, now, audit = []) =>
      runQuery(() =>
        db.transaction(async (tx) => {
          await tx.insert(revokedAccessTokens).values({ jti, expiresAt, revokedAt: now }).onConflictDoNothing();
          await insertAudit(tx, audit);
        }),
      ),
  };
}
