import { and, asc, eq, gt, ilike, or, sql, type SQL } from 'drizzle-orm';
import type { UserDirectory } from '../../users/user-directory.js';
import { runQuery, type Db } from './database.js';
import { insertAudit } from './drizzle-audit-log.js';
import { toUserRecord } from './drizzle-user-store.js';
import { deletedUsers, users } from './schema.js';
import { isUuid } from '../../ids/uuid.js';

/** `%` and `_` in a search are literal characters, not patterns. */
function prefixPattern(text: string): string {
  return `${text.replace(/[\\%_]/g, '\\$&')}%`;
}

export function createDrizzleUserDirectory(db: Db): UserDirectory {
  return {
    list: (query) =>
      runQuery(async () => {
        const conditions: SQL[] = [];
        if (query.search !== undefined && query.search !== '') {
          const pattern = prefixPattern(query.search.normalize('NFKC').toLowerCase());
          conditions.push(or(ilike(users.usernameKey, pattern), ilike(users.email, pattern)) as SQL);
        }
        if (query.after !== undefined) conditions.push(gt(users.usernameKey, query.after));
        if (query.kind !== undefined) conditions.push(eq(users.kind, query.kind));
        const rows = await db
          .select()
          .from(users)
          .where(conditions.length === 0 ? undefined : and(...conditions))
          .orderBy(asc(users.usernameKey))
          .limit(query.limit);
        return rows.map((row) => ({ ...toUserRecord(row), usernameKey: row.usernameKey }));
      }),

    setStatus: (id, status, audit = []) =>
      runQuery(async () => {
        if (!isUuid(id)) return undefined;
        return db.transaction(async (tx) => {
          const [row] = await tx
            .update(users)
            .set({ ...status, updatedAt: new Date() })
            .where(eq(users.id, id))
            .returning();
          if (row === undefined) return undefined;
          await insertAudit(tx, audit);
          return toUserRecord(row);
        });
      }),

    changeRole: (id, change, audit = []) =>
      runQuery(async () => {
        if (!isUuid(id)) return undefined;
        // One statement: concurrent grants and revokes of different roles never overwrite each other.
        const roles =
          'grant' in change
            ? sql`CASE WHEN ${change.grant} = ANY(${users.roles}) THEN ${users.roles} ELSE array_append(${users.roles}, ${change.grant}::text) END`
            : sql`array_remove(${users.roles}, ${change.revoke}::text)`;
        return db.transaction(async (tx) => {
          const [row] = await tx.update(users).set({ roles, updatedAt: new Date() }).where(eq(users.id, id)).returning();
          if (row === undefined) return undefined;
          await insertAudit(tx, audit);
          return toUserRecord(row);
        });
      }),

    delete: (id, audit = []) =>
      runQuery(async () => {
        if (!isUuid(id)) return false;
        return db.transaction(async (tx) => {
          const deleted = await tx
            .delete(users)
            .where(eq(users.id, id))
            .returning({ id: users.id, tokenVersion: users.tokenVersion, tokensRevokedAt: users.tokensRevokedAt });
          const [row] = deleted;
          if (row === undefined) return false;
          // The revocation outlives the row (see deletedUsers): GET /revocations keeps serving it.
          await tx
            .insert(deletedUsers)
            .values({ id: row.id, tokenVersion: row.tokenVersion, deletedAt: row.tokensRevokedAt ?? new Date() })
            .onConflictDoNothing();
          await insertAudit(tx, audit);
          return true;
        });
      }),
  };
}
