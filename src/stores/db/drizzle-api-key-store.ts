import { and, desc, eq, gt, isNull, or } from 'drizzle-orm';
import type { ApiKeyRecord, ApiKeyStore, NewApiKey } from '../../apikeys/api-key-store.js';
import { isUuid } from '../../ids/uuid.js';
import { databaseFailure, runQuery, type Db } from './database.js';
import { insertAudit } from './drizzle-audit-log.js';
import { apiKeys } from './schema.js';

function toRecord(row: typeof apiKeys.$inferSelect): ApiKeyRecord {
  return Object.freeze({ ...row, scopes: Object.freeze([...row.scopes]) });
}

/** The one place a key row is written: a new key, or a rotation's successor. */
async function insertKey(tx: Pick<Db, 'insert'>, key: NewApiKey): Promise<ApiKeyRecord> {
  const [row] = await tx
    .insert(apiKeys)
    .values({ ...key, scopes: [...key.scopes] })
    .returning();
  if (row === undefined) throw new Error('insert returned no row');
  return toRecord(row);
}

// Key ids are fixed-width base62 (src/apikeys/api-key-token.ts): anything else matches no row.
const isKeyId = (id: string): boolean => /^[0-9A-Za-z]{17}$/.test(id);

/** ApiKeyStore over drizzle: the same code on PGlite and PostgreSQL. */
export function createDrizzleApiKeyStore(db: Db): ApiKeyStore {
  // Not revoked, or revoked only later than `at` (an overlap still running may be shortened).
  const liveAt = (at: Date) => or(isNull(apiKeys.revokedAt), gt(apiKeys.revokedAt, at));
  return {
    async insert(key, audit = []) {
      try {
        return await db.transaction(async (tx) => {
          const row = await insertKey(tx, key);
          await insertAudit(tx, audit);
          return row;
        });
      } catch (error) {
        throw databaseFailure(error);
      }
    },

    async findById(id) {
      if (!isKeyId(id)) return undefined;
      const [row] = await runQuery(() => db.select().from(apiKeys).where(eq(apiKeys.id, id)).limit(1));
      return row === undefined ? undefined : toRecord(row);
    },

    async listOfOwner(ownerId) {
      if (!isUuid(ownerId)) return [];
      const rows = await runQuery(() => db.select().from(apiKeys).where(eq(apiKeys.ownerId, ownerId)).orderBy(desc(apiKeys.createdAt), apiKeys.id));
      return rows.map(toRecord);
    },

    async revoke(id, ownerId, at, reason, audit = []) {
      if (!isKeyId(id) || !isUuid(ownerId)) return false;
      try {
        return await db.transaction(async (tx) => {
          const rows = await tx
            .update(apiKeys)
            .set({ revokedAt: at, revokedReason: reason })
            .where(and(eq(apiKeys.id, id), eq(apiKeys.ownerId, ownerId), liveAt(at)))
            .returning({ id: apiKeys.id });
          if (rows.length === 0) return false;
          await insertAudit(tx, audit);
          return true;
        });
      } catch (error) {
        throw databaseFailure(error);
      }
    },

    async rotate(oldId, ownerId, oldEndsAt, replacement, audit = []) {
      if (!isKeyId(oldId) || !isUuid(ownerId)) return undefined;
      try {
        return await db.transaction(async (tx) => {
          const ended = await tx
            .update(apiKeys)
            .set({ revokedAt: oldEndsAt, revokedReason: 'rotated' })
            // A key rotated already (in its overlap) has its successor: rotating it again would fork it.
            // The row lock makes two concurrent rotations of one key produce exactly one successor.
            .where(and(eq(apiKeys.id, oldId), eq(apiKeys.ownerId, ownerId), isNull(apiKeys.revokedAt)))
            .returning({ id: apiKeys.id });
          if (ended.length === 0) return undefined;
          const row = await insertKey(tx, replacement);
          await insertAudit(tx, audit);
          return row;
        });
      } catch (error) {
        throw databaseFailure(error);
      }
    },

    async recordUse(id, at, ip, audit = []) {
      try {
        await db.transaction(async (tx) => {
          await tx.update(apiKeys).set({ lastUsedAt: at, lastUsedIp: ip }).where(eq(apiKeys.id, id));
          await insertAudit(tx, audit);
        });
      } catch (error) {
        throw databaseFailure(error);
      }
    },
  };
}
