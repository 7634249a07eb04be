import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { asc, eq, sql } from 'drizzle-orm';
import { openDatabase, type Db } from '../../src/stores/db/database.js';
import { purgeExpired, type PurgeCounts, type PurgeOptions } from '../../src/stores/db/drizzle-housekeeping.js';
import { createDrizzleEmailCodeStore } from '../../src/stores/db/drizzle-email-code-store.js';
import { auditEvents, emailCodes, refreshTokens, revokedAccessTokens, sessions, users } from '../../src/stores/db/schema.js';
import { digestRefreshToken, generateRefreshToken } from '../../src/sessions/refresh-token.js';
import { createTestStores } from '../support/test-stores.js';

const NOW = Date.parse('2030-09-01T12:00:00Z');
const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const TTL = 15 * MINUTE;
const OPTIONS: PurgeOptions = { accessTokenTtlMs: TTL, graceMs: 0 };
const NONE: PurgeCounts = { sessions: 0, refreshTokens: 0, revokedAccessTokens: 0, sealsCleared: 0, auditEvents: 0, deletedUsers: 0, emailCodes: 0 };

interface TokenSpec {
  readonly spentAt?: number;
  readonly sealed?: string;
}

interface SessionSpec {
  readonly expiresAt?: number;
  readonly idleExpiresAt?: number;
  readonly revokedAt?: number;
  readonly tokens?: readonly TokenSpec[];
}

let shared: { db: Db; userId: string; close(): Promise<void> } | undefined;

/** The database of this pass (PGlite or PostgreSQL), emptied of sessions and deny-list entries: purges are global. */
async function withDb(run: (db: Db, fixtures: Fixtures) => Promise<void>): Promise<void> {
  assert.ok(shared !== undefined);
  await shared.db.execute(sql`TRUNCATE refresh_tokens, sessions, revoked_access_tokens, email_codes`);
  await run(shared.db, fixtures(shared.db, shared.userId));
}

before(async () => {
  const stores = await createTestStores();
  const database = await openDatabase(stores.databaseUrl === 'memory:' ? { kind: 'pglite-memory' } : { kind: 'postgres', url: stores.databaseUrl });
  const userId = randomUUID();
  await database.db.insert(users).values({ id: userId, username: 'keeper', usernameKey: 'keeper', passwordHash: 'x' });
  shared = {
    db: database.db,
    userId,
    async close() {
      await database.close();
      await stores.cleanup();
    },
  };
});
after(() => shared?.close());

interface Fixtures {
  /** Inserts sessions (default: live, created 30 days before NOW) and their tokens; returns their ids. */
  sessions(...specs: SessionSpec[]): Promise<string[]>;
  sessionIds(): Promise<string[]>;
  tokenCount(sessionId: string): Promise<number>;
}

function fixtures(db: Db, userId: string): Fixtures {
  return {
    async sessions(...specs) {
      const rows = specs.map((spec) => ({
        id: randomUUID(),
        userId,
        clientId: 'gatehouse-cli',
        scope: 'profile',
        device: 'test',
        ip: null,
        createdAt: new Date(NOW - 30 * DAY),
        lastUsedAt: new Date(NOW - DAY),
        expiresAt: new Date(spec.expiresAt ?? NOW + DAY),
        idleExpiresAt: new Date(spec.idleExpiresAt ?? Math.min(spec.expiresAt ?? NOW + DAY, NOW + HOUR)),
        authMethods: ['pwd'],
        authTime: new Date(0),
        revokedAt: spec.revokedAt === undefined ? null : new Date(spec.revokedAt),
        revokedReason: spec.revokedAt === undefined ? null : 'logout',
      }));
      const tokens = rows.flatMap((row, i) =>
        (specs[i]?.tokens ?? [{}]).map((token, generation) => ({
          digest: digestRefreshToken(generateRefreshToken()),
          sessionId: row.id,
          generation,
          createdAt: new Date(NOW - 30 * DAY),
          spentAt: token.spentAt === undefined ? null : new Date(token.spentAt),
          successorSealed: token.sealed ?? null,
        })),
      );
      // Chunked: one INSERT per few hundred rows keeps the bound parameters under PostgreSQL's limit.
      for (let i = 0; i < rows.length; i += 400) await db.insert(sessions).values(rows.slice(i, i + 400));
      for (let i = 0; i < tokens.length; i += 400) await db.insert(refreshTokens).values(tokens.slice(i, i + 400));
      return rows.map((r) => r.id);
    },
    async sessionIds() {
      return (await db.select({ id: sessions.id }).from(sessions)).map((r) => r.id).sort();
    },
    async tokenCount(sessionId) {
      return (await db.select().from(refreshTokens).where(eq(refreshTokens.sessionId, sessionId))).length;
    },
  };
}

/** The db, with the rows each `execute` touched recorded (the purge returns `RETURNING 1` rows). */
function countingStatements(db: Db): { db: Db; touched: number[] } {
  const touched: number[] = [];
  const proxy = new Proxy(db, {
    get(target, prop) {
      if (prop === 'execute') {
        return async (query: Parameters<Db['execute']>[0]) => {
          const result = await target.execute(query);
          touched.push((result as unknown as { rows: unknown[] }).rows.length);
          return result;
        };
      }
      const value: unknown = Reflect.get(target, prop);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
  return { db: proxy, touched };
}

describe('purgeExpired (housekeeping)', () => {
  test('dead sessions past the retention go with their tokens; live and recently dead ones stay, spent tokens included', async () => {
    await withDb(async (db, f) => {
      const [live, recentlyExpired, revokedRecentlyExpiredLongAgo] = await f.sessions(
        // Live, with two spent tokens: needed to recognise their reuse later.
        { tokens: [{ spentAt: NOW - 2 * DAY }, { spentAt: NOW - DAY }, {}] },
        { expiresAt: NOW - 12 * HOUR },
        // Revoked a moment ago: instances still load it to refuse its access tokens.
        { expiresAt: NOW - 5 * DAY, revokedAt: NOW - 10 * MINUTE },
      );
      await f.sessions(
        { expiresAt: NOW - 2 * DAY, tokens: [{ spentAt: NOW - 3 * DAY }, {}] },
        { expiresAt: NOW + 10 * DAY, idleExpiresAt: NOW - 2 * DAY, tokens: [{ spentAt: NOW - 3 * DAY }, {}] },
        { expiresAt: NOW + 10 * DAY, revokedAt: NOW - 2 * DAY, tokens: [{ spentAt: NOW - 2 * DAY }, { spentAt: NOW - 2 * DAY }] },
      );

      const counts = await purgeExpired(db, new Date(NOW), OPTIONS);
      assert.deepEqual(counts, { ...NONE, sessions: 3, refreshTokens: 6 });
      assert.deepEqual(await f.sessionIds(), [live ?? '', recentlyExpired ?? '', revokedRecentlyExpiredLongAgo ?? ''].sort());
      assert.equal(await f.tokenCount(live ?? ''), 3, 'spent tokens of a live session are kept');
      assert.equal((await db.select().from(refreshTokens)).length, 5, 'no orphan tokens left');
      assert.deepEqual(await purgeExpired(db, new Date(NOW), OPTIONS), NONE, 'a second run finds nothing');
    });
  });

  test('a dead session is kept for the access-token lifetime + 120 s even when the retention is shorter', async () => {
    await withDb(async (db, f) => {
      const floor = TTL + 120 * SECOND;
      const kept = await f.sessions({ revokedAt: NOW - floor + 1 }, { expiresAt: NOW - floor + 1 }, { idleExpiresAt: NOW - floor + 1 });
      await f.sessions({ revokedAt: NOW - floor - 1 }, { expiresAt: NOW - floor - 1 }, { idleExpiresAt: NOW - floor - 1 });
      const counts = await purgeExpired(db, new Date(NOW), { ...OPTIONS, retentionMs: 0 });
      assert.equal(counts.sessions, 3);
      assert.deepEqual(await f.sessionIds(), kept.sort());
    });
  });

  test('the retention, when longer than the floor, decides', async () => {
    await withDb(async (db, f) => {
      const kept = await f.sessions({ revokedAt: NOW - 2 * HOUR + 1 }, { expiresAt: NOW - 2 * HOUR + 1 });
      await f.sessions({ revokedAt: NOW - 2 * HOUR - 1 }, { expiresAt: NOW - 2 * HOUR - 1 });
      assert.equal((await purgeExpired(db, new Date(NOW), { ...OPTIONS, retentionMs: 2 * HOUR })).sessions, 2);
      assert.deepEqual(await f.sessionIds(), kept.sort());
    });
  });

  test('deny-list entries go 120 s after their access token expired, not before', async () => {
    await withDb(async (db) => {
      const entry = (jti: string, expiresAt: number) => ({ jti, expiresAt: new Date(expiresAt), revokedAt: new Date(expiresAt - TTL) });
      await db.insert(revokedAccessTokens).values([entry('gone', NOW - 121 * SECOND), entry('skew', NOW - 119 * SECOND), entry('live', NOW + 10 * MINUTE)]);
      assert.deepEqual(await purgeExpired(db, new Date(NOW), OPTIONS), { ...NONE, revokedAccessTokens: 1 });
      const left = await db.select({ jti: revokedAccessTokens.jti }).from(revokedAccessTokens).orderBy(asc(revokedAccessTokens.jti));
      assert.deepEqual(
        left.map((r) => r.jti),
        ['live', 'skew'],
      );
    });
  });

  test('sealed successors are cleared once the grace window has passed; the tokens themselves stay', async () => {
    await withDb(async (db, f) => {
      const [id] = await f.sessions({
        tokens: [{ spentAt: NOW - 6 * SECOND, sealed: 'gs1.old' }, { spentAt: NOW - 4 * SECOND, sealed: 'gs1.recent' }, {}],
      });
      const seals = async () =>
        (
          await db
            .select()
            .from(refreshTokens)
            .where(eq(refreshTokens.sessionId, id ?? ''))
            .orderBy(asc(refreshTokens.generation))
        ).map((r) => r.successorSealed);
      assert.deepEqual(await purgeExpired(db, new Date(NOW), { ...OPTIONS, graceMs: 5 * SECOND }), { ...NONE, sealsCleared: 1 });
      assert.deepEqual(await seals(), [null, 'gs1.recent', null]);
      // The window turned off (0): no seal may outlive it.
      assert.deepEqual(await purgeExpired(db, new Date(NOW), OPTIONS), { ...NONE, sealsCleared: 1 });
      assert.deepEqual(await seals(), [null, null, null]);
    });
  });

  test('email codes go once expired; a live one stays and can still be used', async () => {
    await withDb(async (db) => {
      assert.ok(shared !== undefined);
      const userId = shared.userId;
      const code = (digest: string, expiresAt: number) => ({
        digest,
        userId,
        purpose: 'email_verification',
        email: 'keeper@example.test',
        createdAt: new Date(expiresAt - HOUR),
        expiresAt: new Date(expiresAt),
      });
      await db.insert(emailCodes).values([code('expired', NOW - SECOND), code('live', NOW + HOUR)]);
      assert.deepEqual(await purgeExpired(db, new Date(NOW), OPTIONS), { ...NONE, emailCodes: 1 });
      const store = createDrizzleEmailCodeStore(db);
      assert.equal((await store.consume('live', 'email_verification', new Date(NOW)))?.digest, 'live');
      assert.deepEqual(await db.select({ digest: emailCodes.digest }).from(emailCodes), []);
    });
  });

  test('audit rows go once older than the audit retention, not before; without a retention they stay', async () => {
    await withDb(async (db) => {
      const row = (event: string, occurredAt: number) => ({ occurredAt: new Date(occurredAt), event, outcome: 'success' });
      await db.insert(auditEvents).values([row('old', NOW - 31 * DAY), row('recent', NOW - 29 * DAY)]);
      assert.deepEqual(await purgeExpired(db, new Date(NOW), OPTIONS), NONE, 'no retention given: nothing deleted');
      assert.deepEqual(await purgeExpired(db, new Date(NOW), { ...OPTIONS, auditRetentionMs: 30 * DAY }), { ...NONE, auditEvents: 1 });
      const left = await db.select({ event: auditEvents.event }).from(auditEvents);
      assert.deepEqual(
        left.map((r) => r.event),
        ['recent'],
      );
    });
  });

  test('1,200 expired sessions: deleted in statements of at most 500 rows, to the last one', async () => {
    await withDb(async (db, f) => {
      const live = await f.sessions(...Array.from({ length: 10 }, () => ({ tokens: [{ spentAt: NOW - DAY }, {}] })));
      await f.sessions(...Array.from({ length: 1200 }, () => ({ expiresAt: NOW - 2 * DAY })));
      const counting = countingStatements(db);
      const counts = await purgeExpired(counting.db, new Date(NOW), OPTIONS);
      assert.deepEqual(counts, { ...NONE, sessions: 1200, refreshTokens: 1200 });
      assert.ok(Math.max(...counting.touched) <= 500, `a statement touched ${Math.max(...counting.touched)} rows`);
      assert.ok(counting.touched.filter((n) => n === 500).length >= 4, `batches: ${counting.touched.join(',')}`);
      assert.deepEqual(await f.sessionIds(), live.sort());
      assert.deepEqual(await purgeExpired(db, new Date(NOW), OPTIONS), NONE);
    });
  });

  test('a smaller batch size is honoured', async () => {
    await withDb(async (db, f) => {
      await f.sessions(...Array.from({ length: 25 }, () => ({ revokedAt: NOW - 2 * DAY })));
      const counting = countingStatements(db);
      assert.equal((await purgeExpired(counting.db, new Date(NOW), { ...OPTIONS, batchSize: 10 })).sessions, 25);
      assert.ok(Math.max(...counting.touched) <= 10, counting.touched.join(','));
      assert.deepEqual(await f.sessionIds(), []);
    });
  });

  test('caller mistakes are TypeErrors, before any query', async () => {
    const db = new Proxy({} as Db, {
      get() {
        throw new Error('the database must not be touched');
      },
    });
    const now = new Date(NOW);
    for (const bad of [{ batchSize: 0 }, { batchSize: 1.5 }, { graceMs: -1 }, { accessTokenTtlMs: Number.NaN }, { retentionMs: Infinity }]) {
      await assert.rejects(purgeExpired(db, now, { ...OPTIONS, ...bad }), TypeError, JSON.stringify(bad));
    }
  });
});
