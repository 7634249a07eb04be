import { and, eq, isNull } from 'drizzle-orm';
import type { NewSession, RotationOutcome, SessionRecord, SessionStore } from '../../sessions/session-store.js';
import { databaseFailure, type Db } from './database.js';
import { refreshTokens, sessions } from './schema.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function refusal(session: SessionRecord, clientId: string, now: Date): string | undefined {
  if (session.revokedAt !== null) return `session revoked (${session.revokedReason ?? 'unknown'})`;
  if (session.expiresAt <= now) return 'session past its absolute expiry';
  if (session.idleExpiresAt <= now) return 'session past its idle expiry';
  if (session.clientId !== clientId) return 'refresh token of another client';
  return undefined;
}

async function guarded<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (error) {
    throw databaseFailure(error);
  }
}

/** SessionStore over drizzle: one transaction per rotation, on PGlite and PostgreSQL alike. */
export function createDrizzleSessionStore(db: Db): SessionStore {
  return {
    create: (session: NewSession, firstDigest: string) =>
      guarded(() =>
        db.transaction(async (tx) => {
          const [row] = await tx.insert(sessions).values(session).returning();
          await tx.insert(refreshTokens).values({ digest: firstDigest, sessionId: session.id, generation: 0, createdAt: session.createdAt });
          return row as SessionRecord;
        }),
      ),

    rotate: ({ digest, nextDigest, clientId, now, idleTtlMs }) =>
      guarded(() =>
        db.transaction(async (tx): Promise<RotationOutcome> => {
          const [found] = await tx
            .select({ session: sessions, spentAt: refreshTokens.spentAt })
            .from(refreshTokens)
            .innerJoin(sessions, eq(sessions.id, refreshTokens.sessionId))
            .where(eq(refreshTokens.digest, digest))
            .limit(1);
          if (found === undefined) return { kind: 'unknown' };
          const session = found.session as SessionRecord;
          const reason = refusal(session, clientId, now);
          if (reason !== undefined) return { kind: 'refused', session, reason };
          if (found.spentAt !== null) return { kind: 'reused', session };
          // The compare-and-set: only one concurrent caller sees `spent_at IS NULL` and gets a row.
          const [spent] = await tx
            .update(refreshTokens)
            .set({ spentAt: now })
            .where(and(eq(refreshTokens.digest, digest), isNull(refreshTokens.spentAt)))
            .returning({ generation: refreshTokens.generation });
          if (spent === undefined) return { kind: 'reused', session };
          const generation = spent.generation + 1;
          await tx.insert(refreshTokens).values({ digest: nextDigest, sessionId: session.id, generation, createdAt: now });
          const idleExpiresAt = new Date(Math.min(now.getTime() + idleTtlMs, session.expiresAt.getTime()));
          const [updated] = await tx.update(sessions).set({ lastUsedAt: now, idleExpiresAt }).where(eq(sessions.id, session.id)).returning();
          return { kind: 'rotated', session: updated as SessionRecord, generation };
        }),
      ),

    revoke: (sessionId, reason, now) =>
      guarded(async () => {
        if (!UUID.test(sessionId)) return false;
        return db.transaction(async (tx) => {
          const revoked = await tx
            .update(sessions)
            .set({ revokedAt: now, revokedReason: reason })
            .where(and(eq(sessions.id, sessionId), isNull(sessions.revokedAt)))
            .returning({ id: sessions.id });
          await tx.update(refreshTokens).set({ spentAt: now }).where(and(eq(refreshTokens.sessionId, sessionId), isNull(refreshTokens.spentAt)));
          return revoked.length === 1;
        });
      }),

    find: (sessionId) =>
      guarded(async () => {
        if (!UUID.test(sessionId)) return undefined;
        const [row] = await db.select().from(sessions).where(eq(sessions.id, sessionId)).limit(1);
        return row as SessionRecord | undefined;
      }),
  };
}
