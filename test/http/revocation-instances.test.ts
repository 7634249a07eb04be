import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { after, before, describe, test, type TestContext } from 'node:test';
import type { LightMyRequestResponse } from 'fastify';
import { decodeJwt } from 'jose';
import { createDrizzleSessionStore } from '../../src/stores/db/drizzle-session-store.js';
import { bearer, startTestApp, TEST_PASSWORD, type TestApp } from '../support/test-app.js';
import { freePort, killRedis, startRedis } from '../support/private-redis.js';
import { testStoreProfile } from '../support/test-stores.js';

/**
 * Revocation between instances of one deployment, over real PostgreSQL and Redis. Registered only
 * in the real pass: in the embedded pass each instance has its own PGlite and memory store, so
 * there is no deployment to share.
 */

const FORM = { 'content-type': 'application/x-www-form-urlencoded' };
/** The requirement: a revocation on one instance holds on every other within this. */
const PROPAGATION_LIMIT_MS = 1_000;
/** Deadlines for outage detection and recovery; generous, never a speed assertion. */
const RECOVERY_DEADLINE_MS = 10_000;

interface Login {
  readonly access: string;
  readonly refresh: string;
  readonly sid: string;
}

async function login(t: TestApp, username: string): Promise<Login> {
  const res = await t.inject({
    method: 'POST',
    url: '/auth/token',
    headers: FORM,
    payload: new URLSearchParams({ grant_type: 'password', username, password: TEST_PASSWORD }).toString(),
  });
  assert.equal(res.statusCode, 200, res.body);
  const body = res.json<{ access_token: string; refresh_token: string }>();
  return { access: body.access_token, refresh: body.refresh_token, sid: decodeJwt(body.access_token).sid as string };
}

const me = (t: TestApp, accessToken: string): Promise<LightMyRequestResponse> => t.inject({ method: 'GET', url: '/me', headers: bearer(accessToken) });

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function expectStatus(t: TestApp, accessToken: string, status: number, label: string): Promise<void> {
  const res = await me(t, accessToken);
  assert.equal(res.statusCode, status, `${label}: ${res.statusCode} ${res.body}`);
}

/** Polls `check` every `intervalMs` until it holds; returns the elapsed ms, fails after `timeoutMs`. */
async function pollUntil(label: string, check: () => Promise<boolean>, timeoutMs: number, intervalMs = 10): Promise<number> {
  const start = performance.now();
  for (;;) {
    if (await check()) return performance.now() - start;
    if (performance.now() - start > timeoutMs) assert.fail(`timed out after ${timeoutMs} ms waiting for: ${label}`);
    await sleep(intervalMs);
  }
}

/**
 * Runs `revokeOnA`, then polls B every 10 ms until it refuses `token`. The delay is counted from the
 * moment the revocation request was sent to A (what a user clicking "log out" experiences).
 */
async function assertPropagates(ctx: TestContext, label: string, b: TestApp, token: string, revokeOnA: () => Promise<void>): Promise<void> {
  await expectStatus(b, token, 200, `${label}: B accepts the token before`);
  const start = performance.now();
  await revokeOnA();
  const acknowledged = performance.now() - start;
  await pollUntil(`${label}: B refuses the token`, async () => (await me(b, token)).statusCode === 401, 5 * PROPAGATION_LIMIT_MS);
  const delay = performance.now() - start;
  ctx.diagnostic(`${label}: refused on B ${delay.toFixed(1)} ms after the request to A (A answered after ${acknowledged.toFixed(1)} ms)`);
  assert.ok(delay < PROPAGATION_LIMIT_MS, `${label}: B still accepted the token ${delay.toFixed(1)} ms after the revocation on A`);
}

if (testStoreProfile === 'real') {
  describe('revocation across instances sharing PostgreSQL and Redis', () => {
    let a: TestApp;
    let b: TestApp;
    let users = 0;
    /** Tokens revoked by the tests below, for the restart check. */
    const revoked: { label: string; token: string }[] = [];
    const freshUser = async (): Promise<string> => {
      const name = `inst-user-${++users}`;
      await a.register(name);
      return name;
    };
    const post = (t: TestApp, url: string, accessToken: string): Promise<LightMyRequestResponse> =>
      t.inject({ method: 'POST', url, headers: bearer(accessToken) });

    before(async () => {
      a = await startTestApp();
      b = await startTestApp({ shareWith: a });
    });
    after(async () => {
      await b.close();
      await a.close();
    });

    test('logout on A: B refuses the access token within 1 s', async (ctx) => {
      const name = await freshUser();
      const s = await login(a, name);
      const sibling = await login(a, name);
      await assertPropagates(ctx, 'logout', b, s.access, async () => {
        assert.equal((await post(a, '/auth/logout', s.access)).statusCode, 204);
      });
      await expectStatus(b, sibling.access, 200, 'another session of the user, on B');
      revoked.push({ label: 'logged out', token: s.access });
    });

    test('RFC 7009 revocation on A (access token, then refresh token): B refuses within 1 s', async (ctx) => {
      const name = await freshUser();
      const byJti = await login(a, name);
      await assertPropagates(ctx, 'revoke access token', b, byJti.access, async () => {
        const res = await a.inject({ method: 'POST', url: '/auth/revoke', headers: FORM, payload: new URLSearchParams({ token: byJti.access }).toString() });
        assert.equal(res.statusCode, 200, res.body);
      });
      revoked.push({ label: 'revoked by jti', token: byJti.access });

      const bySession = await login(a, name);
      await assertPropagates(ctx, 'revoke refresh token', b, bySession.access, async () => {
        const res = await a.inject({
          method: 'POST',
          url: '/auth/revoke',
          headers: FORM,
          payload: new URLSearchParams({ token: bySession.refresh }).toString(),
        });
        assert.equal(res.statusCode, 200, res.body);
      });
      revoked.push({ label: 'session revoked by its refresh token', token: bySession.access });
    });

    test('logout-all on A: B refuses every access token of the user within 1 s, not another user’s', async (ctx) => {
      const name = await freshUser();
      const onA = await login(a, name);
      const onB = await login(b, name);
      const bystander = await login(a, await freshUser());
      await assertPropagates(ctx, 'logout-all', b, onB.access, async () => {
        assert.equal((await post(a, '/auth/logout-all', onA.access)).statusCode, 204);
      });
      await expectStatus(b, onA.access, 401, 'the caller’s own token, on B');
      await expectStatus(b, bystander.access, 200, 'another user, on B');
      revoked.push({ label: 'logout-all (caller)', token: onA.access }, { label: 'logout-all (other session)', token: onB.access });
    });

    test('REGRESSION: after logout-all on A, a refresh on B (user still cached there) must not mint an access token with the old tver', async () => {
      // B has the user cached (1 s) with the old token version; a refresh on B must not mint a token
      // with that old `tver`, which B's own revocation list (and every other instance's) refuses.
      const name = await freshUser();
      const old = await login(a, name);
      await expectStatus(b, old.access, 200, 'B serves the user (and caches it)');
      assert.equal((await post(a, '/auth/logout-all', old.access)).statusCode, 204);
      const fresh = await login(a, name);
      assert.equal(decodeJwt(fresh.access).tver, 1);
      await expectStatus(b, fresh.access, 200, 'B accepts the new session’s token from A');
      const res = await b.inject({
        method: 'POST',
        url: '/auth/token',
        headers: FORM,
        payload: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: fresh.refresh }).toString(),
      });
      assert.equal(res.statusCode, 200, res.body);
      const refreshed = res.json<{ access_token: string }>().access_token;
      assert.equal(decodeJwt(refreshed).tver, 1, 'B minted an access token with the token version from before logout-all');
      await expectStatus(b, refreshed, 200, 'the access token B just issued, on B');
      await expectStatus(a, refreshed, 200, 'the access token B just issued, on A');
    });

    test('an instance started after the revocations refuses them all (restart durability)', async () => {
      assert.ok(revoked.length >= 5, 'the tests above ran');
      const live = await login(a, await freshUser());
      const c = await startTestApp({ shareWith: a });
      try {
        for (const { label, token } of revoked) await expectStatus(c, token, 401, `C: ${label}`);
        await expectStatus(c, live.access, 200, 'C: a live token');
      } finally {
        await c.close();
      }
    });
  });

  describe('Redis outage: fail closed, then catch up from PostgreSQL', () => {
    let redis: ChildProcess | undefined;
    let port: number;
    let t: TestApp;
    let live: Login;
    let revokedUnseen: Login;
    let revokedLocally: Login;

    before(async () => {
      port = await freePort();
      redis = await startRedis(port);
      t = await startTestApp({ env: { GATEHOUSE_REDIS_URL: `redis://127.0.0.1:${port}` }, overrides: { revocationStaleAfterMs: 1_500 } });
      await t.register('outage-user');
      live = await login(t, 'outage-user');
      revokedUnseen = await login(t, 'outage-user');
      revokedLocally = await login(t, 'outage-user');
    });
    after(async () => {
      try {
        await t?.close();
      } finally {
        await killRedis(redis);
      }
    });

    test('healthy: tokens accepted, /readyz ready', async () => {
      assert.equal(t.services.ephemeral.kind, 'redis');
      for (const s of [live, revokedUnseen, revokedLocally]) await expectStatus(t, s.access, 200, 'before the outage');
      const ready = await t.inject({ method: 'GET', url: '/readyz' });
      assert.equal(ready.statusCode, 200, ready.body);
      assert.equal(ready.json().checks.revocation, 'ok');
    });

    test('Redis killed: protected routes answer 503 ERR_STORE_UNAVAILABLE, /readyz 503 with revocation "stale"', async (ctx) => {
      await killRedis(redis);
      const waited = await pollUntil('a 503 on a protected route', async () => (await me(t, live.access)).statusCode === 503, RECOVERY_DEADLINE_MS, 50);
      ctx.diagnostic(`503 after ${waited.toFixed(0)} ms`);
      const res = await me(t, live.access);
      assert.equal(res.statusCode, 503, res.body);
      assert.match(String(res.headers['content-type']), /^application\/problem\+json/);
      assert.equal(res.json().code, 'ERR_STORE_UNAVAILABLE');
      const ready = await t.inject({ method: 'GET', url: '/readyz' });
      assert.equal(ready.statusCode, 503, ready.body);
      assert.equal(ready.json().checks.revocation, 'stale');
    });

    test('sessions revoked during the outage are refused once Redis is back; the live token works again', async (ctx) => {
      // As another instance would: written to PostgreSQL, its publish lost. This instance's list never saw it.
      assert.equal(await createDrizzleSessionStore(t.services.database.db).revoke(revokedUnseen.sid, 'logout', new Date()), true);
      // Through this instance: durable and local, publish fails (reported, not thrown).
      assert.equal(await t.services.sessions.revoke(revokedLocally.sid, 'logout', new Date()), true);
      await expectStatus(t, revokedUnseen.access, 503, 'still closed while Redis is down');

      redis = await startRedis(port);
      const waited = await pollUntil('the live token accepted again', async () => (await me(t, live.access)).statusCode === 200, RECOVERY_DEADLINE_MS, 50);
      ctx.diagnostic(`200 again ${waited.toFixed(0)} ms after Redis restarted`);
      await expectStatus(t, revokedUnseen.access, 401, 'revoked in the database during the outage (loaded by the catch-up)');
      await expectStatus(t, revokedLocally.access, 401, 'revoked through this instance during the outage');
      // The main connection reconnects on its own backoff, possibly after the subscriber: poll.
      await pollUntil('/readyz ready again', async () => (await t.inject({ method: 'GET', url: '/readyz' })).statusCode === 200, RECOVERY_DEADLINE_MS, 50);
      assert.equal((await t.inject({ method: 'GET', url: '/readyz' })).json().checks.revocation, 'ok');
    });
  });
}
