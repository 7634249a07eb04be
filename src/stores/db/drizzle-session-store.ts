import { and, desc, eq, getTableColumns, gt, isNull, ne, sql, type SQL } from 'drizzle-orm';
import type { AuditRecord } from '../../audit/audit-event.js';
import { insertAudit } from './drizzle-audit-log.js';
import { alias } from 'drizzle-orm/pg-core';
import {
  authenticationColumns,
  type CookieSessionRecord,
  type NewSession,
  type RotationOutcome,
  type RotationRequest,
  type SessionRecord,
  type SessionStore,
} from '../../sessions/session-store.js';
import { SCOPE_TOKEN } from '../../oauth/scope-catalogue.js';
import { runQuery, type Db } from './database.js';
import { auditEvents, refreshTokens, sessions } from './schema.js';
import { isUuid } from '../../ids/uuid.js';

/**
 * The columns of a SessionRecord: every read that hands a session on selects these, so a cookie
 * session's secret digest never rides along in a record shown to anyone (`/me/sessions`, logs).
 */
const { cookieSecretDigest, tokenVersion, ...recordColumns } = getTableColumns(sessions);

/** A session row live at `now`: not revoked, within its absolute and idle expiry (the SQL side of `deadSession`). */
const liveAt = (now: Date): SQL | undefined => and(isNull(sessions.revokedAt), gt(sessions.expiresAt, now), gt(sessions.idleExpiresAt, now));

function deadSession(session: SessionRecord, now: Date): string | undefined {
  if (session.revokedAt !== null) return `session revoked (${session.revokedReason ?? 'unknown'})`;
  if (session.expiresAt <= now) return 'session past its absolute expiry';
  if (session.idleExpiresAt <= now) return 'session past its idle expiry';
  return undefined;
}

function toSession(row: Record<string, unknown>): SessionRecord {
  const date = (v: unknown) => (v === null ? null : v instanceof Date ? v : new Date(String(v)));
  return {
    id: String(row.id),
    kind: row.kind === 'cookie' ? 'cookie' : 'refresh',
    userId: String(row.user_id),
    clientId: String(row.client_id),
    tenantId: row.tenant_id === null || row.tenant_id === undefined ? null : String(row.tenant_id),
    scope: String(row.scope),
    resource: row.resource === null || row.resource === undefined ? null : String(row.resource),
    device: String(row.device),
    ip: row.ip === null ? null : String(row.ip),
    createdAt: date(row.created_at) as Date,
    lastUsedAt: date(row.last_used_at) as Date,
    expiresAt: date(row.expires_at) as Date,
    idleExpiresAt: date(row.idle_expires_at) as Date,
    revokedAt: date(row.revoked_at),
    revokedReason: row.revoked_reason === null ? null : String(row.revoked_reason),
    authMethods: (row.auth_methods as string[]).map(String),
    authTime: date(row.auth_time) as Date,
  };
}

/**
 * The happy path as ONE statement, so a rotation costs one round trip like a bare conditional
 * UPDATE: spend the token only if it is unspent and its session is live, of this client and holds
 * the requested scopes (the compare-and-set), insert its successor, touch the session. Under
 * concurrency PostgreSQL re-checks `spent_at IS NULL` after the winner commits, so losers get no
 * row. Lock order (docs/architecture.md): the session row first (`live`, materialised, so it is
 * locked before `spent` can reach the token row), then the token row, as every revocation does;
 * spending the token first deadlocked against a concurrent logout (40P01). A session revoked while
 * we waited for its lock fails the re-check of `live`'s conditions, so nothing is spent. With a grace window the spent row also keeps the sealed successor, in the same statement,
 * so no loser can ever see the successor without its seal. `undefined` means nothing was changed;
 * the caller then finds out why.
 */
async function rotateInOneStatement(db: Db, r: RotationRequest): Promise<RotationOutcome | undefined> {
  // Scope tokens (RFC 6749 §3.3) cannot hold '"' or '\\', so quoting them makes a safe array literal.
  if (!r.requestedScopes.every((x) => SCOPE_TOKEN.test(x))) throw new TypeError('requestedScopes must be RFC 6749 scope tokens');
  const now = r.now.toISOString();
  const result = await db.execute(sql`
    WITH live AS MATERIALIZED (
      SELECT s.id, s.user_id FROM sessions AS s
      WHERE s.id = (SELECT session_id FROM refresh_tokens WHERE digest = ${r.digest})
        AND s.revoked_at IS NULL AND s.expires_at > ${now}::timestamptz AND s.idle_expires_at > ${now}::timestamptz
        AND s.client_id = ${r.clientId}
        AND string_to_array(s.scope, ' ') @> ${`{${r.requestedScopes.map((x) => `"${x}"`).join(',')}}`}::text[]
        ${r.resource === undefined ? sql`` : sql`AND s.resource IS NOT DISTINCT FROM ${r.resource}::text`}
      FOR NO KEY UPDATE OF s
    ), spent AS (
      UPDATE refresh_tokens AS rt SET spent_at = ${now}::timestamptz, successor_sealed = ${r.grace?.sealedSuccessor ?? null}::text
      FROM live AS s
      WHERE rt.digest = ${r.digest} AND rt.spent_at IS NULL AND rt.session_id = s.id
      RETURNING rt.session_id, rt.generation, s.user_id
    ), successor AS (
      INSERT INTO refresh_tokens (digest, session_id, generation, created_at)
      SELECT ${r.nextDigest}, session_id, generation + 1, ${now}::timestamptz FROM spent
      RETURNING generation
    )${r.audit === undefined ? sql`` : auditedRotation(r.audit)}
    UPDATE sessions SET last_used_at = ${now}::timestamptz,
      idle_expires_at = LEAST(${now}::timestamptz + ${r.idleTtlMs}::double precision * interval '1 millisecond', sessions.expires_at)
    FROM spent, successor WHERE sessions.id = spent.session_id
    RETURNING sessions.*, successor.generation AS next_generation`);
  const row = (result as unknown as { rows: Record<string, unknown>[] }).rows[0];
  if (row === undefined) return undefined;
  return { kind: 'rotated', session: toSession(row), generation: Number(row.next_generation) };
}

interface SpentToken {
  readonly spentAt: Date;
  readonly sealed: string | null;
  /** The row of generation + 1, if any. */
  readonly successorDigest: string | null;
  readonly successorSpentAt: Date | null;
}

/**
 * A repeat of a spent token that the grace window forgives: every condition must hold, and any
 * miss is reuse. The session is already known to be live. A repeat from another client, after the
 * window, after the successor was itself used, or asking for more than the session holds is not a
 * retry of the request that spent the token.
 */
function graceReplay(spent: SpentToken, session: SessionRecord, r: RotationRequest): RotationOutcome | undefined {
  if (r.grace === undefined || r.grace.windowMs <= 0) return undefined;
  if (session.clientId !== r.clientId) return undefined;
  // A negative age (another instance's clock slightly ahead) is still inside the window.
  if (r.now.getTime() - spent.spentAt.getTime() >= r.grace.windowMs) return undefined;
  if (spent.sealed === null || spent.successorDigest === null || spent.successorSpentAt !== null) return undefined;
  const held = new Set(session.scope.split(' '));
  if (!r.requestedScopes.every((scope) => held.has(scope))) return undefined;
  if (r.resource !== undefined && r.resource !== session.resource) return undefined;
  return { kind: 'replayed', session, sealedSuccessor: spent.sealed, successorDigest: spent.successorDigest };
}

/**
 * Why a rotation changed nothing. A spent token of a live session is reuse whatever client
 * presents it (a thief trying another client_id must still raise the alarm), unless the grace
 * window forgives it (see {@link graceReplay}).
 */
async function classifyFailedRotation(db: Db, r: RotationRequest): Promise<RotationOutcome> {
  const successor = alias(refreshTokens, 'successor');
  const [found] = await db
    .select({
      session: recordColumns,
      spentAt: refreshTokens.spentAt,
      sealed: refreshTokens.successorSealed,
      successorDigest: successor.digest,
      successorSpentAt: successor.spentAt,
    })
    .from(refreshTokens)
    .innerJoin(sessions, eq(sessions.id, refreshTokens.sessionId))
    .leftJoin(successor, and(eq(successor.sessionId, refreshTokens.sessionId), eq(successor.generation, sql`${refreshTokens.generation} + 1`)))
    .where(eq(refreshTokens.digest, r.digest))
    .limit(1);
  if (found === undefined) return { kind: 'unknown' };
  const session = found.session as SessionRecord;
  const dead = deadSession(session, r.now);
  if (dead !== undefined) return { kind: 'refused', session, reason: dead };
  if (found.spentAt !== null) return graceReplay({ ...found, spentAt: found.spentAt }, session, r) ?? { kind: 'reused', session };
  if (session.clientId !== r.clientId) return { kind: 'refused', session, reason: 'refresh token of another client' };
  // After the reuse check: a spent token naming another resource is still reuse.
  if (r.resource !== undefined && r.resource !== session.resource) return { kind: 'target_mismatch', session };
  return { kind: 'scope_exceeded', session };
}

/** The rotation's audit row, as one more part of the same statement: written only if a token was spent. */
function auditedRotation(a: AuditRecord): SQL {
  return sql`, audited AS (
      INSERT INTO audit_events (occurred_at, event, outcome, reason, actor_id, subject_id, session_id, ip, user_agent, request_id)
      SELECT ${a.occurredAt.toISOString()}::timestamptz, ${a.event}, ${a.outcome}, ${a.reason}, user_id, user_id, session_id, ${a.ip}, ${a.userAgent}, ${a.requestId} FROM spent
    )`;
}

/**
 * A new session (`session`: its INSERT … RETURNING the record's columns), its first refresh token
 * (a refresh session; a cookie session has none) and its audit rows, as ONE statement rather than
 * a transaction: on PGlite every statement is a round of the wire protocol and a plan on the event
 * loop, and BEGIN, three inserts and COMMIT were measured at 4.3 ms of every login (2.4–2.6 ms as
 * one statement). A statement is atomic, and the token's foreign key to the new session is checked
 * at its end, when the session row exists.
 */
async function insertSessionAtOnce(db: Db, session: SQL, firstToken: SQL | undefined, audit: readonly AuditRecord[]): Promise<SessionRecord> {
  const parts = [sql`created AS (${session})`];
  if (firstToken !== undefined) parts.push(sql`first_token AS (${firstToken})`);
  if (audit.length > 0)
    parts.push(
      sql`audited AS (${db
        .insert(auditEvents)
        .values([...audit])
        .getSQL()})`,
    );
  const result = await db.execute(sql`WITH ${sql.join(parts, sql`, `)} SELECT * FROM created`);
  const row = (result as unknown as { rows: Record<string, unknown>[] }).rows[0];
  if (row === undefined) throw new Error('the session insert returned no row');
  return toSession(row);
}

/** SessionStore over drizzle: one statement per rotation, on PGlite and PostgreSQL alike. */
export function createDrizzleSessionStore(db: Db): SessionStore {
  return {
    create: (session: NewSession, firstDigest: string, audit = []) =>
      runQuery(() => {
        const created = db
          .insert(sessions)
          .values({ ...session, authMethods: [...session.authMethods] })
          .returning(recordColumns);
        const firstToken = db.insert(refreshTokens).values({ digest: firstDigest, sessionId: session.id, generation: 0, createdAt: session.createdAt });
        return insertSessionAtOnce(db, created.getSQL(), firstToken.getSQL(), audit);
      }),

    createCookieSession: (session, secretDigest, version, audit = []) =>
      runQuery(() => {
        const created = db
          .insert(sessions)
          .values({ ...session, authMethods: [...session.authMethods], kind: 'cookie', cookieSecretDigest: secretDigest, tokenVersion: version })
          .returning(recordColumns);
        return insertSessionAtOnce(db, created.getSQL(), undefined, audit);
      }),

    findCookieSession: (sessionId) =>
      runQuery(async () => {
        if (!isUuid(sessionId)) return undefined;
        const [row] = await db
          .select({ ...recordColumns, secretDigest: cookieSecretDigest, tokenVersion })
          .from(sessions)
          .where(and(eq(sessions.id, sessionId), eq(sessions.kind, 'cookie')))
          .limit(1);
        // The check constraint keeps both set on every cookie row.
        if (row === undefined || row.secretDigest === null || row.tokenVersion === null) return undefined;
        return { ...row, kind: 'cookie', secretDigest: row.secretDigest, tokenVersion: row.tokenVersion } as CookieSessionRecord;
      }),

    touchIdle: (sessionId, now, idleExpiresAt) =>
      runQuery(async () => {
        if (!isUuid(sessionId)) return false;
        // Conditional: a revocation that committed first is never undone by a late renewal.
        const touched = await db
          .update(sessions)
          .set({ lastUsedAt: now, idleExpiresAt: sql`LEAST(${idleExpiresAt.toISOString()}::timestamptz, ${sessions.expiresAt})` })
          .where(and(eq(sessions.id, sessionId), isNull(sessions.revokedAt)))
          .returning({ id: sessions.id });
        return touched.length === 1;
      }),

    rotate: (request) =>
      runQuery(async () => {
        const rotated = await rotateInOneStatement(db, request);
        return rotated ?? classifyFailedRotation(db, request);
      }),

    revoke: (sessionId, reason, now, audit = []) =>
      runQuery(async () => {
        if (!isUuid(sessionId)) return false;
        return db.transaction(async (tx) => {
          const revoked = await tx
            .update(sessions)
            .set({ revokedAt: now, revokedReason: reason })
            .where(and(eq(sessions.id, sessionId), isNull(sessions.revokedAt)))
            .returning({ id: sessions.id });
          await tx
            .update(refreshTokens)
            .set({ spentAt: now })
            .where(and(eq(refreshTokens.sessionId, sessionId), isNull(refreshTokens.spentAt)));
          // Recorded only when this call ended the session: a second revoke changed nothing.
          if (revoked.length === 1) await insertAudit(tx, audit);
          return revoked.length === 1;
        });
      }),

    revokeAllOfUser: (userId, reason, now, exceptSessionId, audit = []) =>
      runQuery(async () => {
        if (!isUuid(userId)) return [];
        return db.transaction(async (tx) => {
          const live = and(eq(sessions.userId, userId), isNull(sessions.revokedAt));
          const revoked = await tx
            .update(sessions)
            .set({ revokedAt: now, revokedReason: reason })
            .where(exceptSessionId === undefined || !isUuid(exceptSessionId) ? live : and(live, ne(sessions.id, exceptSessionId)))
            .returning({ id: sessions.id });
          const ids = revoked.map((r) => r.id);
          if (ids.length > 0) {
            await tx.execute(sql`UPDATE refresh_tokens SET spent_at = ${now.toISOString()}::timestamptz
              WHERE spent_at IS NULL AND session_id = ANY(${`{${ids.join(',')}}`}::uuid[])`);
          }
          await insertAudit(tx, audit);
          return ids;
        });
      }),

    findByRefreshDigest: (digest) =>
      runQuery(async () => {
        const [found] = await db
          .select({ session: recordColumns })
          .from(refreshTokens)
          .innerJoin(sessions, eq(sessions.id, refreshTokens.sessionId))
          .where(eq(refreshTokens.digest, digest))
          .limit(1);
        return found?.session as SessionRecord | undefined;
      }),

    listActive: (userId, now) =>
      runQuery(async () => {
        if (!isUuid(userId)) return [];
        const rows = await db
          .select(recordColumns)
          .from(sessions)
          .where(and(eq(sessions.userId, userId), liveAt(now)))
          .orderBy(desc(sessions.createdAt));
        return rows as SessionRecord[];
      }),

    recordAuthentication: (sessionId, authentication, now, audit = []) =>
      runQuery(async () => {
        if (!isUuid(sessionId)) return false;
        return db.transaction(async (tx) => {
          // Conditional, like touchIdle: a revoked or expired session is never elevated.
          const updated = await tx
            .update(sessions)
            .set(authenticationColumns(authentication))
            .where(and(eq(sessions.id, sessionId), liveAt(now)))
            .returning({ id: sessions.id });
          if (updated.length === 1) await insertAudit(tx, audit);
          return updated.length === 1;
        });
      }),

    find: (sessionId) =>
      runQuery(async () => {
        if (!isUuid(sessionId)) return undefined;
        const [row] = await db.select(recordColumns).from(sessions).where(eq(sessions.id, sessionId)).limit(1);
        return row as SessionRecord | undefined;
      }),
  };
}
