import { and, count, eq, isNotNull, isNull, lt, or, sql } from 'drizzle-orm';
import type { FactorKind, FactorRecord, FactorStore } from '../../factors/factor-store.js';
import { runQuery, type Db } from './database.js';
import { insertAudit } from './drizzle-audit-log.js';
import { factors, recoveryCodes } from './schema.js';

type Row = typeof factors.$inferSelect;

function toFactor(row: Row): FactorRecord {
  return Object.freeze({ ...row, kind: row.kind as FactorKind });
}

/** FactorStore over drizzle: the same statements on PGlite and PostgreSQL. */
export function createDrizzleFactorStore(db: Db): FactorStore {
  const stepMovesForward = (step: number) => or(isNull(factors.lastStep), lt(factors.lastStep, step));
  return {
    async insert(factor, audit = []) {
      await runQuery(() =>
        db.transaction(async (tx) => {
          // One enrolment pending at a time: an abandoned one is replaced, never piled up.
          await tx.delete(factors).where(and(eq(factors.userId, factor.userId), isNull(factors.confirmedAt)));
          await tx.insert(factors).values(factor);
          await insertAudit(tx, audit);
        }),
      );
    },
    async find(id, userId) {
      const [row] = await runQuery(() =>
        db
          .select()
          .from(factors)
          .where(and(eq(factors.id, id), eq(factors.userId, userId)))
          .limit(1),
      );
      return row === undefined ? undefined : toFactor(row);
    },
    async listOfUser(userId) {
      const rows = await runQuery(() => db.select().from(factors).where(eq(factors.userId, userId)).orderBy(factors.createdAt));
      return rows.map(toFactor);
    },
    async hasConfirmed(userId) {
      const rows = await runQuery(() =>
        db
          .select({ id: factors.id })
          .from(factors)
          .where(and(eq(factors.userId, userId), isNotNull(factors.confirmedAt)))
          .limit(1),
      );
      return rows.length > 0;
    },
    async acceptStep(id, step, at) {
      const rows = await runQuery(() =>
        db
          .update(factors)
          .set({ lastStep: step, lastUsedAt: at })
          .where(and(eq(factors.id, id), isNotNull(factors.confirmedAt), stepMovesForward(step)))
          .returning({ id: factors.id }),
      );
      return rows.length > 0;
    },
    async confirm(id, userId, step, at, recoveryDigests, audit) {
      return runQuery(() =>
        db.transaction(async (tx) => {
          const rows = await tx
            .update(factors)
            .set({ lastStep: step, lastUsedAt: at, confirmedAt: at })
            .where(and(eq(factors.id, id), eq(factors.userId, userId), isNull(factors.confirmedAt), stepMovesForward(step)))
            .returning({ id: factors.id });
          if (rows.length === 0) return false;
          if (recoveryDigests !== undefined) {
            await tx.delete(recoveryCodes).where(eq(recoveryCodes.userId, userId));
            await tx.insert(recoveryCodes).values(recoveryDigests.map((digest) => ({ digest, userId, createdAt: at })));
          }
          await insertAudit(tx, audit);
          return true;
        }),
      );
    },
    async remove(id, userId, audit) {
      return runQuery(() =>
        db.transaction(async (tx) => {
          const rows = await tx
            .delete(factors)
            .where(and(eq(factors.id, id), eq(factors.userId, userId)))
            .returning({ id: factors.id });
          if (rows.length === 0) return false;
          const [left] = await tx
            .select({ n: count() })
            .from(factors)
            .where(and(eq(factors.userId, userId), isNotNull(factors.confirmedAt)));
          // Recovery codes stand in for a second factor: with none left they would be one on their own.
          if ((left?.n ?? 0) === 0) await tx.delete(recoveryCodes).where(eq(recoveryCodes.userId, userId));
          await insertAudit(tx, audit);
          return true;
        }),
      );
    },
    async removeAllOfUser(userId, audit) {
      return runQuery(() =>
        db.transaction(async (tx) => {
          const rows = await tx.delete(factors).where(eq(factors.userId, userId)).returning({ id: factors.id });
          await tx.delete(recoveryCodes).where(eq(recoveryCodes.userId, userId));
          await insertAudit(tx, audit);
          return rows.length;
        }),
      );
    },
    async sealedSamples() {
      const kekId = sql`split_part(${factors.sealedSecret}, '.', 2)`;
      return runQuery(() =>
        db.selectDistinctOn([kekId], { id: factors.id, sealedSecret: factors.sealedSecret }).from(factors).where(isNotNull(factors.confirmedAt)).orderBy(kekId),
      );
    },
    async replaceRecoveryCodes(userId, digests, at, audit) {
      await runQuery(() =>
        db.transaction(async (tx) => {
          await tx.delete(recoveryCodes).where(eq(recoveryCodes.userId, userId));
          await tx.insert(recoveryCodes).values(digests.map((digest) => ({ digest, userId, createdAt: at })));
          await insertAudit(tx, audit);
        }),
      );
    },
    async consumeRecoveryCode(userId, digest) {
      const rows = await runQuery(() =>
        db
          .delete(recoveryCodes)
          .where(and(eq(recoveryCodes.digest, digest), eq(recoveryCodes.userId, userId)))
          .returning({ digest: recoveryCodes.digest }),
      );
      return rows.length > 0;
    },
    async recoveryCodesLeft(userId) {
      const [row] = await runQuery(() => db.select({ n: count() }).from(recoveryCodes).where(eq(recoveryCodes.userId, userId)));
      return row?.n ?? 0;
    },
  };
}
