import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { call, deployment, tokensOf, type Deployment, type Instance, type Tokens } from '../support/gatehouse-instances.js';
import { privatePostgresUnavailable, startPrivatePostgres, type PrivatePostgres } from '../support/private-postgres.js';
import { checkInvariants, NO_VIOLATIONS } from '../support/session-invariants.js';
import { testStoreProfile } from '../support/test-stores.js';

/**
 * Issue 17, fault 6: more concurrent requests than the instance's pool (10 connections) while
 * another connection holds a lock on `sessions`. Before the statement timeout the ten that got a
 * connection waited as long as the lock was held, and the twenty others got 503 after the pool's
 * 5 s wait, without Retry-After. Now each statement is cancelled after
 * GATEHOUSE_DATABASE_STATEMENT_TIMEOUT_MS, its transaction rolls back whole, and every request is
 * answered within the pool wait plus that timeout: a 503 with Retry-After, or served.
 *
 * One instance on a private PostgreSQL (never the shared one), in-process ephemeral state.
 */

const PASSWORD = 'correct horse battery staple';
const STATEMENT_TIMEOUT_MS = 1_000;
/** src/stores/db/database.ts: how long a query waits for a pooled connection. */
const POOL_WAIT_MS = 5_000;
/**
 * The bound on an answer: the pool wait and one statement timeout, and as much again for a loaded
 * machine. Shorter than the lock is held, so a request waiting on the lock fails it.
 */
const BOUND_MS = POOL_WAIT_MS + 2 * STATEMENT_TIMEOUT_MS;
const LOCK_HELD_MS = BOUND_MS + 2_000;
const REFRESHES = 30;
const LOGINS = 5;
const MES = 10;
/** database.ts's MIGRATION_LOCK_ID: the advisory lock every starting instance migrates under. */
const MIGRATION_LOCK_ID = 0x6761_7465;

interface Timed {
  readonly route: 'refresh' | 'login' | 'me';
  readonly status: number;
  readonly retryAfter: string | null;
  readonly code: unknown;
  readonly ms: number;
}

/** One request that must be answered within BOUND_MS: a hang fails the test. */
async function timed(route: Timed['route'], base: string, init: { path: string; token?: string; body?: object }): Promise<Timed> {
  const start = performance.now();
  const res = await fetch(`${base}${init.path}`, {
    method: init.body === undefined ? 'GET' : 'POST',
    headers: {
      ...(init.token === undefined ? {} : { authorization: `Bearer ${init.token}` }),
      ...(init.body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }),
    signal: AbortSignal.timeout(BOUND_MS),
  }).catch((error: unknown) => {
    throw new Error(`${route}: no answer within ${BOUND_MS} ms (${String(error)})`);
  });
  const body = (await res.json().catch(() => ({}))) as Record<string, unknown>;
  return { route, status: res.status, retryAfter: res.headers.get('retry-after'), code: body.code ?? body.error, ms: performance.now() - start };
}

const counts = (answers: readonly Timed[]): Record<string, number> => {
  const out: Record<string, number> = {};
  for (const a of answers) out[`${a.route} ${a.status}`] = (out[`${a.route} ${a.status}`] ?? 0) + 1;
  return out;
};

if (testStoreProfile === 'real' && privatePostgresUnavailable === undefined) {
  describe('fault: a lock held on sessions and a burst of more requests than the pool', () => {
    let postgres: PrivatePostgres;
    let gatehouse: Deployment;
    let a: Instance;
    let probe: Tokens;
    const sessions: Tokens[] = [];
    const started = performance.now();

    before(async () => {
      postgres = await startPrivatePostgres();
      gatehouse = deployment({ databaseUrl: postgres.url, env: { GATEHOUSE_DATABASE_STATEMENT_TIMEOUT_MS: String(STATEMENT_TIMEOUT_MS) } });
    });
    after(async () => {
      try {
        await gatehouse?.close();
      } finally {
        postgres?.destroy();
      }
    });

    test('the startup migration waits on the advisory lock past the statement timeout and is not cancelled by it', async (ctx) => {
      const other = new pg.Client({ connectionString: postgres.url });
      await other.connect();
      try {
        // Another instance migrating: the one starting now waits on the lock, longer than the timeout.
        await other.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_ID]);
        const starting = gatehouse.start('A');
        let settled = false;
        starting.then(
          () => (settled = true),
          () => (settled = true),
        );
        await sleep(3 * STATEMENT_TIMEOUT_MS);
        assert.equal(settled, false, 'the instance did not wait for the migration lock');
        await other.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_ID]);
        const unlocked = performance.now();
        a = await starting;
        ctx.diagnostic(`waited ${3 * STATEMENT_TIMEOUT_MS} ms on the migration lock; listening ${(performance.now() - unlocked).toFixed(0)} ms after it went`);
      } finally {
        await other.end();
      }
      assert.equal((await call(a.base, 'POST', '/auth/register', { body: { username: 'burst', password: PASSWORD } })).status, 201);
      for (let n = 0; n <= REFRESHES; n++) {
        const login = await call(a.base, 'POST', '/auth/login', { body: { username: 'burst', password: PASSWORD } });
        assert.equal(login.status, 200, JSON.stringify(login.body));
        sessions.push(tokensOf(login));
      }
      probe = sessions.pop()!;
    });

    test('lock held: every request of the burst is answered within the bound; each 503 carries Retry-After; nothing half-written', async (ctx) => {
      const locker = new pg.Client({ connectionString: postgres.url });
      await locker.connect();
      let lockedAt = 0;
      let burst: Timed[] = [];
      try {
        await locker.query('BEGIN');
        await locker.query('LOCK TABLE sessions IN ACCESS EXCLUSIVE MODE');
        lockedAt = performance.now();
        burst = await Promise.all([
          ...sessions.map((s) => timed('refresh', a.base, { path: '/auth/refresh', body: { refresh_token: s.refresh } })),
          ...Array.from({ length: LOGINS }, () => timed('login', a.base, { path: '/auth/login', body: { username: 'burst', password: PASSWORD } })),
          ...Array.from({ length: MES }, () => timed('me', a.base, { path: '/me', token: probe.access })),
        ]);
        // The burst is over while the lock is still held: nothing it got was the lock going away.
        assert.ok(performance.now() - lockedAt < LOCK_HELD_MS, 'the burst outlasted the lock');
        await sleep(LOCK_HELD_MS - (performance.now() - lockedAt));
      } finally {
        await locker.query('ROLLBACK').catch(() => undefined);
        await locker.end();
      }
      const ms = burst.map((b) => b.ms).sort((x, y) => x - y);
      ctx.diagnostic(
        `lock held ${LOCK_HELD_MS} ms, statement timeout ${STATEMENT_TIMEOUT_MS} ms, ${burst.length} concurrent requests on a pool of 10: ${JSON.stringify(counts(burst))}; answered in p50 ${ms[Math.floor(ms.length / 2)]!.toFixed(0)} ms, max ${ms.at(-1)!.toFixed(0)} ms`,
      );
      // Nothing that touches sessions can succeed under the lock; /me reads only users (or the guard's cache).
      for (const b of burst.filter((x) => x.route !== 'me')) {
        assert.equal(b.status, 503, `${b.route}: ${b.status}`);
        assert.equal(b.code, b.route === 'refresh' ? 'temporarily_unavailable' : 'ERR_STORE_UNAVAILABLE');
      }
      for (const b of burst.filter((x) => x.route === 'me')) assert.ok(b.status === 200 || b.status === 503, `/me ${b.status}`);
      for (const b of burst.filter((x) => x.status === 503)) assert.equal(b.retryAfter, '1', `${b.route}: 503 without Retry-After`);
      // The cause in the log: PostgreSQL cancelled the statement (57014), not a request left waiting.
      assert.match(a.output(), /57014/);
      assert.ok(a.alive(), 'the instance exited');

      // A 503 rolled its rotation back whole: no session spent a token under the lock.
      const { violations, figures } = await checkInvariants(postgres.url, ['burst']);
      assert.deepEqual(violations, NO_VIOLATIONS);
      assert.equal(figures.rotations, 0, 'a rotation committed under the lock');
      assert.equal(figures.sessions, REFRESHES + 1, 'a login committed under the lock');
    });

    test('the lock gone: the instance serves at once, and every refresh token the burst was refused still rotates', async (ctx) => {
      const first = await timed('refresh', a.base, { path: '/auth/refresh', body: { refresh_token: sessions[0]!.refresh } });
      assert.equal(first.status, 200, 'the first request after the lock went');
      const rest = await Promise.all(sessions.slice(1).map((s) => timed('refresh', a.base, { path: '/auth/refresh', body: { refresh_token: s.refresh } })));
      assert.deepEqual(counts(rest), { [`refresh 200`]: REFRESHES - 1 });
      assert.equal((await timed('me', a.base, { path: '/me', token: probe.access })).status, 200);
      const { violations, figures } = await checkInvariants(postgres.url, ['burst']);
      assert.deepEqual(violations, NO_VIOLATIONS);
      assert.equal(figures.rotations, REFRESHES);
      ctx.diagnostic(
        `first refresh after the lock went answered 200 in ${first.ms.toFixed(0)} ms; the ${REFRESHES} refused tokens all rotated; test ran ${((performance.now() - started) / 1000).toFixed(1)} s`,
      );
    });
  });
} else {
  describe('fault: a lock held on sessions and a burst of more requests than the pool', () => {
    test('skipped: needs the real pass and PostgreSQL server binaries', (ctx) => {
      ctx.diagnostic(`skipped (${testStoreProfile} pass${privatePostgresUnavailable === undefined ? '' : `, ${privatePostgresUnavailable}`})`);
    });
  });
}
