import { and, gt, isNotNull } from 'drizzle-orm';
import { REVOCATION_SLACK_MS, type RevocationEntry } from '../../revocation/revocation-entry.js';
import type { RevocationStore } from '../../revocation/revocation-store.js';
import { runQuery, type Db } from './database.js';
import { insertAudit } from './drizzle-audit-log.js';
import { revokedAccessTokens, sessions, users } from './schema.js';

/**
 * RevocationStore over the tables that already hold the facts: a revoked session is its
 * `sessions.revoked_at`, a per-user revocation is `users.token_version` bumped at
 * `tokens_revoked_at`, and only per-token revocations need their own table. So a logout or a
 * password change is durable in the very transaction that makes it.
 */
export function createDrizzleRevocationStore(db: Db): RevocationStore {
  return {
    loadLive: (now, windowMs) =>
      runQuery(async () => {
        const since = new Date(now.getTime() - windowMs);
        const [tokens, revokedSessions, bumpedUsers] = await Promise.all([
          db
            .select({ jti: revokedAccessTokens.jti, expiresAt: revokedAccessTokens.expiresAt })
            .from(revokedAccessTokens)
            .where(gt(revokedAccessTokens.expiresAt, new Date(now.getTime() - REVOCATION_SLACK_MS))),
          db
            .select({ id: sessions.id, revokedAt: sessions.revokedAt })
            .from(sessions)
            .where(and(isNotNull(sessions.revokedAt), gt(sessions.revokedAt, since))),
          db
            .select({ id: users.id, version: users.tokenVersion, revokedAt: users.tokensRevokedAt })
            .from(users)
            .where(and(isNotNull(users.tokensRevokedAt), gt(users.tokensRevokedAt, since))),
        ]);
        const entries: RevocationEntry[] = [];
        for (const t of tokens) entries.push({ kind: 'token', id: t.jti, until: t.expiresAt.getTime() + REVOCATION_SLACK_MS });
        for (const s of revokedSessions) entries.push({ kind: 'session', id: s.id, until: (s.revokedAt as Date).getTime() + windowMs });
        for (const u of bumpedUsers) entries.push({ kind: 'user', id: u.id, version: u.version, until: (u.revokedAt as Date).getTime() + windowMs });
        return entries;
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
