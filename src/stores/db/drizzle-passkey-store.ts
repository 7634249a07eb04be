import { and, asc, count, eq } from 'drizzle-orm';
import { isUuid } from '../../ids/uuid.js';
import type { PasskeyDeviceType, PasskeyRecord, PasskeyStore } from '../../passkeys/passkey-store.js';
import { databaseFailure, isUniqueViolation, runQuery, type Db } from './database.js';
import { insertAudit } from './drizzle-audit-log.js';
import { passkeys } from './schema.js';

type Row = typeof passkeys.$inferSelect;

function toPasskey(row: Row): PasskeyRecord {
  return Object.freeze({ ...row, deviceType: row.deviceType as PasskeyDeviceType, transports: Object.freeze([...row.transports]) });
}

/** PasskeyStore over drizzle: the same statements on PGlite and PostgreSQL. */
export function createDrizzlePasskeyStore(db: Db): PasskeyStore {
  return {
    async insert(passkey, audit = []) {
      try {
        await db.transaction(async (tx) => {
          await tx.insert(passkeys).values({ ...passkey, transports: [...passkey.transports] });
          await insertAudit(tx, audit);
        });
        return true;
      } catch (error) {
        if (isUniqueViolation(error)) return false;
        throw databaseFailure(error);
      }
    },
    async findByCredentialId(credentialId) {
      const [row] = await runQuery(() => db.select().from(passkeys).where(eq(passkeys.credentialId, credentialId)).limit(1));
      return row === undefined ? undefined : toPasskey(row);
    },
    async listOfUser(userId) {
      if (!isUuid(userId)) return [];
      const rows = await runQuery(() => db.select().from(passkeys).where(eq(passkeys.userId, userId)).orderBy(asc(passkeys.createdAt), asc(passkeys.id)));
      return rows.map(toPasskey);
    },
    async countOfUser(userId) {
      if (!isUuid(userId)) return 0;
      const [row] = await runQuery(() => db.select({ n: count() }).from(passkeys).where(eq(passkeys.userId, userId)));
      return row?.n ?? 0;
    },
    async remove(id, userId, audit = []) {
      // A malformed id would make PostgreSQL raise instead of answering "no such passkey".
      if (!isUuid(id) || !isUuid(userId)) return false;
      return runQuery(() =>
        db.transaction(async (tx) => {
          const gone = await tx
            .delete(passkeys)
            .where(and(eq(passkeys.id, id), eq(passkeys.userId, userId)))
            .returning({ id: passkeys.id });
          if (gone.length === 0) return false;
          await insertAudit(tx, audit);
          return true;
        }),
      );
    },
    async recordUse(id, expectedSignCount, use, audit = []) {
      return runQuery(() =>
        db.transaction(async (tx) => {
          const moved = await tx
            .update(passkeys)
            .set({ signCount: use.signCount, backedUp: use.backedUp, lastUsedAt: use.at })
            .where(and(eq(passkeys.id, id), eq(passkeys.signCount, expectedSignCount)))
            .returning({ id: passkeys.id });
          if (moved.length === 0) return false;
          await insertAudit(tx, audit);
          return true;
        }),
      );
    },
  };
}
