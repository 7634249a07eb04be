import { and, eq, isNotNull, sql } from 'drizzle-orm';
import { EmailTakenError, UsernameTakenError } from '../../errors/errors.js';
import type { NewUser, UserRecord, UserStore } from '../../users/user-store.js';
import { databaseFailure, isUniqueViolation, runQuery, type Db } from './database.js';
import { insertAudit } from './drizzle-audit-log.js';
import { users } from './schema.js';
import { isUuid } from '../../ids/uuid.js';
import { keyOfStoredEmail } from '../../email/email-address.js';
import { usernameSkeletons } from '../../users/username-skeleton.js';

type Row = typeof users.$inferSelect;

export function toUserRecord(row: Row): UserRecord {
  return Object.freeze({
    id: row.id,
    kind: row.kind === 'service' ? 'service' : 'person',
    username: row.username,
    email: row.email,
    emailVerifiedAt: row.emailVerifiedAt,
    passwordHash: row.passwordHash,
    roles: Object.freeze([...row.roles]),
    disabledAt: row.disabledAt,
    lockedAt: row.lockedAt,
    tokenVersion: row.tokenVersion,
    createdAt: row.createdAt,
  });
}

/** The constraint a unique violation names (`constraint` on the pg and PGlite error, maybe under drizzle's wrapper). */
function violatedConstraint(error: unknown): string | undefined {
  for (let e: unknown = error, depth = 0; e !== undefined && e !== null && depth < 4; e = (e as { cause?: unknown }).cause, depth++) {
    const name = (e as { constraint?: unknown }).constraint;
    if (typeof name === 'string') return name;
  }
  return undefined;
}

/** UserStore over drizzle: the same code on PGlite and PostgreSQL. */
export function createDrizzleUserStore(db: Db): UserStore {
  return {
    async create(user: NewUser, audit = []) {
      try {
        return await db.transaction(async (tx) => {
          const skeletons = usernameSkeletons(user.usernameKey);
          const emailKey = user.email === null ? null : keyOfStoredEmail(user.email);
          const values = { ...user, roles: [...(user.roles ?? [])], emailKey, usernameSkeleton: skeletons.lower, usernameUpperSkeleton: skeletons.upper };
          const [row] = await tx.insert(users).values(values).returning();
          if (row === undefined) throw new Error('insert returned no row');
          await insertAudit(tx, audit);
          return toUserRecord(row);
        });
      } catch (error) {
        // The key or a skeleton: one answer, so a look-alike tells nothing a taken name does not.
        if (isUniqueViolation(error))
          throw new UsernameTakenError(violatedConstraint(error)?.includes('skeleton') === true ? 'looks like an existing username' : 'username exists');
        throw databaseFailure(error);
      }
    },
    async findById(id) {
      // A malformed id would make PostgreSQL raise instead of answering "no such user".
      if (!isUuid(id)) return undefined;
      const [row] = await runQuery(() => db.select().from(users).where(eq(users.id, id)).limit(1));
      return row === undefined ? undefined : toUserRecord(row);
    },
    async findByUsernameKey(key) {
      // The sign-in's one read: the account and whether a second factor must follow the password.
      // Anything but a plain false reads as "has one": a driver surprise fails closed, not open.
      // Spelled out: drizzle renders a column inside sql`` unqualified, and "user_id" = "id" would compare two columns of factors.
      const hasSecondFactor = sql<boolean>`exists (select 1 from "factors" where "factors"."user_id" = "users"."id" and "factors"."confirmed_at" is not null)`;
      // Likewise, anything but a plain false reads as "has memberships": the store is then asked for them.
      const hasMemberships = sql<boolean>`exists (select 1 from "memberships" where "memberships"."user_id" = "users"."id")`;
      const [row] = await runQuery(() => db.select({ user: users, hasSecondFactor, hasMemberships }).from(users).where(eq(users.usernameKey, key)).limit(1));
      return row === undefined
        ? undefined
        : Object.freeze({ ...toUserRecord(row.user), hasSecondFactor: row.hasSecondFactor !== false, hasMemberships: row.hasMemberships !== false });
    },
    async findByVerifiedEmailKey(key) {
      const [row] = await runQuery(() =>
        db
          .select()
          .from(users)
          .where(and(eq(users.emailKey, key), isNotNull(users.emailVerifiedAt)))
          .limit(1),
      );
      return row === undefined ? undefined : toUserRecord(row);
    },
    async replacePasswordHash(id, expected, next, audit = []) {
      return runQuery(() =>
        db.transaction(async (tx) => {
          const updated = await tx
            .update(users)
            .set({ passwordHash: next, updatedAt: new Date() })
            .where(and(eq(users.id, id), eq(users.passwordHash, expected)))
            .returning({ id: users.id });
          if (updated.length === 1) await insertAudit(tx, audit);
          return updated.length === 1;
        }),
      );
    },
    async confirmEmail(id, email, expectedCurrent, now, audit = []) {
      if (!isUuid(id)) return false;
      try {
        return await db.transaction(async (tx) => {
          const updated = await tx
            .update(users)
            .set({ email, emailKey: keyOfStoredEmail(email), emailVerifiedAt: now, updatedAt: now })
            .where(expectedCurrent === undefined ? eq(users.id, id) : and(eq(users.id, id), eq(users.email, expectedCurrent)))
            .returning({ id: users.id });
          if (updated.length === 1) await insertAudit(tx, audit);
          return updated.length === 1;
        });
      } catch (error) {
        if (isUniqueViolation(error)) throw new EmailTakenError();
        throw databaseFailure(error);
      }
    },
    async revokeAllTokens(id, now, audit = []) {
      if (!isUuid(id)) return undefined;
      const [row] = await runQuery(() =>
        db.transaction(async (tx) => {
          const bumped = await tx
            .update(users)
            .set({ tokenVersion: sql`${users.tokenVersion} + 1`, tokensRevokedAt: now, updatedAt: now })
            .where(eq(users.id, id))
            .returning({ tokenVersion: users.tokenVersion });
          if (bumped.length === 1) await insertAudit(tx, audit);
          return bumped;
        }),
      );
      return row?.tokenVersion;
    },
    async delete(id) {
      if (!isUuid(id)) return false;
      const deleted = await runQuery(() => db.delete(users).where(eq(users.id, id)).returning({ id: users.id }));
      return deleted.length === 1;
    },
  };
}
