import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { authenticate } from '../../packages/verify/src/internal.js';
import {
  createVerifier,
  InvalidTokenError,
  VerificationError,
  type CatchUpEvent,
  type RevocationOptions,
  type Verifier,
} from '../../packages/verify/src/index.js';
import { freePort, hasRedisServer, killRedis, startRedis } from '../support/private-redis.js';
import { testStoreProfile } from '../support/test-stores.js';
import { cuttableFeed, eventually, manualClock, startListeningGatehouse, type ListeningGatehouse } from './support.js';

/**
 * Issue 19, item 5: a token logged out while the SDK's feed link was down stayed accepted (893 s
 * in the review) while Gatehouse's own instances refused it. The SDK now catches up from
 * `GET /revocations` after each resubscribe and periodically, and fails closed while it cannot.
 */

const SECRET = 'sdk-catch-up-secret-Qw8Er4Ty6Ui2Op0As9Df';
/** Deadlines for a reconnect; generous, never a speed assertion. */
const RECOVERY_DEADLINE_MS = 15_000;
/** Long enough that only a resubscribe (not the periodic read) can explain a catch-up in a test. */
const NO_PERIODIC_READ_MS = 600_000;

/** By code, as callers are told to switch (RevocationsStaleError). */
const isStale = (e: unknown): boolean => e instanceof VerificationError && e.code === 'ERR_REVOCATIONS_STALE' && e.name === 'RevocationsStaleError';
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const refused = (verifier: Verifier, token: string) => (): Promise<boolean> =>
  verifier.verify(token).then(
    () => false,
    (e: unknown) => e instanceof InvalidTokenError,
  );

describe(`revocation catch-up (${testStoreProfile} stores)`, () => {
  let server: ListeningGatehouse;
  before(async () => {
    server = await startListeningGatehouse({ env: { GATEHOUSE_REVOCATION_FEED_SECRETS: SECRET } });
  });
  after(() => server.close());
  const catchUpUrl = () => `${server.baseUrl}/revocations`;

  test('a token logged out while the feed link is down is refused once the link is back (the catch-up), the other session still works', async () => {
    const feed = cuttableFeed(server);
    const verifier = createVerifier({ issuer: server.issuer, audience: server.audience, jwksUri: server.jwksUri });
    const subscription = await verifier.subscribeRevocations({
      feed,
      catchUp: { url: catchUpUrl(), secret: SECRET, intervalMs: NO_PERIODIC_READ_MS, maxStalenessMs: 2 * NO_PERIODIC_READ_MS },
    });
    try {
      const gone = await server.login('catchup_alice');
      const kept = await server.login('catchup_alice');
      await verifier.verify(gone.access_token);
      feed.cut();
      const out = await fetch(`${server.baseUrl}/auth/logout`, { method: 'POST', headers: bearer(gone.access_token) });
      assert.equal(out.status, 204);
      assert.ok(await verifier.verify(gone.access_token), 'the message was lost with the link: not known yet');
      feed.restore();
      await eventually(refused(verifier, gone.access_token), RECOVERY_DEADLINE_MS);
      assert.ok(await verifier.verify(kept.access_token));
      assert.ok(subscription.staleness !== undefined && subscription.staleness < NO_PERIODIC_READ_MS);
    } finally {
      await verifier.close();
    }
  });

  test('with the link down for good, the periodic read still brings the logout', async () => {
    const feed = cuttableFeed(server);
    const verifier = createVerifier({ issuer: server.issuer, audience: server.audience, jwksUri: server.jwksUri });
    await verifier.subscribeRevocations({ feed, catchUp: { url: catchUpUrl(), secret: SECRET, intervalMs: 50 } });
    try {
      const gone = await server.login('catchup_frank');
      await verifier.verify(gone.access_token);
      feed.cut();
      assert.equal((await fetch(`${server.baseUrl}/auth/logout`, { method: 'POST', headers: bearer(gone.access_token) })).status, 204);
      await eventually(refused(verifier, gone.access_token), RECOVERY_DEADLINE_MS);
    } finally {
      await verifier.close();
    }
  });

  test('a resubscribe while a read is in flight queues one more read: a logout between that read and the resubscribe is not missed', async () => {
    const feed = cuttableFeed(server);
    // The real endpoint, with the answer held back: the read has seen the state, not yet applied it.
    let hold: Promise<void> | undefined;
    let release = (): void => {};
    let pagesRead = 0;
    const heldFetch: typeof fetch = async (input, init) => {
      const response = await fetch(input, init);
      const page = new Response(await response.text(), { status: response.status, headers: response.headers });
      pagesRead += 1;
      await hold;
      return page;
    };
    const verifier = createVerifier({ issuer: server.issuer, audience: server.audience, jwksUri: server.jwksUri });
    await verifier.subscribeRevocations({
      feed,
      catchUp: { url: catchUpUrl(), secret: SECRET, intervalMs: NO_PERIODIC_READ_MS, maxStalenessMs: 2 * NO_PERIODIC_READ_MS, fetch: heldFetch },
    });
    try {
      const gone = await server.login('catchup_hank');
      await verifier.verify(gone.access_token);
      hold = new Promise((resolve) => (release = resolve));
      const before = pagesRead;
      feed.cut();
      feed.restore();
      await eventually(async () => pagesRead > before, RECOVERY_DEADLINE_MS);
      feed.cut();
      assert.equal((await fetch(`${server.baseUrl}/auth/logout`, { method: 'POST', headers: bearer(gone.access_token) })).status, 204);
      feed.restore();
      hold = undefined;
      release();
      await eventually(refused(verifier, gone.access_token), RECOVERY_DEADLINE_MS);
    } finally {
      await verifier.close();
    }
  });

  test('a token revoked before the verifier subscribed is refused from the start', async () => {
    const token = (await server.login('catchup_bob')).access_token;
    const revoke = await fetch(`${server.baseUrl}/auth/revoke`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token }),
    });
    assert.equal(revoke.status, 200);
    const verifier = createVerifier({ issuer: server.issuer, audience: server.audience, jwksUri: server.jwksUri });
    await verifier.subscribeRevocations({ feed: cuttableFeed(server), catchUp: { url: catchUpUrl(), secret: SECRET } });
    try {
      await assert.rejects(verifier.verify(token), (e: unknown) => e instanceof InvalidTokenError && e.logReason === 'access token revoked');
    } finally {
      await verifier.close();
    }
  });

  test('catch-up failing beyond maxStalenessMs: every token refused (503 in the adapters), unless the host chose whenStale: accept', async () => {
    // A second Gatehouse of the test's own, so stopping it leaves the suite's server alone.
    const own = await startListeningGatehouse({ env: { GATEHOUSE_REVOCATION_FEED_SECRETS: SECRET } });
    let ownOpen = true;
    const token = (await own.login('catchup_carol')).access_token;
    // Keys given, not fetched: stopping this Gatehouse must take away only the catch-up.
    const jwks = own.gatehouse.services.keySet().publicJwks;
    const clock = manualClock();
    const events: CatchUpEvent[] = [];
    const options = { url: `${own.baseUrl}/revocations`, secret: SECRET, maxStalenessMs: 60_000, now: clock.now, onEvent: (e: CatchUpEvent) => events.push(e) };
    const closed = createVerifier({ issuer: own.issuer, audience: own.audience, jwks });
    const open = createVerifier({ issuer: own.issuer, audience: own.audience, jwks });
    const closedSub = await closed.subscribeRevocations({ feed: cuttableFeed(own), catchUp: options });
    await open.subscribeRevocations({ feed: cuttableFeed(own), catchUp: { ...options, whenStale: 'accept' } });
    try {
      assert.ok(await closed.verify(token), 'caught up: accepted');
      assert.equal(events.filter((e) => e.event === 'revocations.caught_up').length, 2);
      await own.close();
      ownOpen = false;
      clock.advance(60_001);
      assert.equal(closed.revocationStaleness(), 60_001);
      assert.equal(closedSub.staleness, 60_001);
      await assert.rejects(closed.verify(token), isStale);
      const outcome = await authenticate(closed, { authorization: [`Bearer ${token}`], query: '' }, {});
      assert.equal(outcome.ok, false);
      assert.ok(!outcome.ok && outcome.status === 503 && outcome.body.code === 'ERR_REVOCATIONS_STALE' && outcome.headers['retry-after'] === '5');
      assert.ok(await open.verify(token), 'fail-open was chosen: accepted on what is known');
      assert.equal(open.revocationStaleness(), 60_001);
    } finally {
      await Promise.all([closed.close(), open.close(), ownOpen ? own.close() : undefined]);
    }
  });

  test('a wrong secret is never caught up: refused from the first request, and the failure is reported', async () => {
    const events: CatchUpEvent[] = [];
    const verifier = createVerifier({ issuer: server.issuer, audience: server.audience, jwksUri: server.jwksUri });
    const subscription = await verifier.subscribeRevocations({
      feed: cuttableFeed(server),
      catchUp: { url: catchUpUrl(), secret: `${SECRET}-not`, onEvent: (e) => events.push(e) },
    });
    try {
      const token = (await server.login('catchup_dave')).access_token;
      assert.equal(subscription.staleness, Number.POSITIVE_INFINITY);
      await assert.rejects(verifier.verify(token), isStale);
      const failed = events.find((e) => e.event === 'revocations.catch_up_failed');
      assert.ok(failed !== undefined && failed.event === 'revocations.catch_up_failed' && /HTTP 401/.test(String(failed.error)));
    } finally {
      await verifier.close();
    }
  });

  test('options that would leak the secret or never catch up are refused at construction', async () => {
    const verifier = createVerifier({ issuer: server.issuer, audience: server.audience, jwksUri: server.jwksUri });
    after(() => verifier.close());
    for (const catchUp of [
      { url: 'http://auth.example.com/revocations', secret: SECRET },
      { url: catchUpUrl(), secret: '' },
      { url: catchUpUrl(), secret: SECRET, maxStalenessMs: 0 },
      { url: catchUpUrl(), secret: SECRET, whenStale: 'maybe' as 'accept' },
      // Would refuse every token for part of every healthy cycle.
      { url: catchUpUrl(), secret: SECRET, intervalMs: 30_000, timeoutMs: 5_000, maxStalenessMs: 35_000 },
      { url: catchUpUrl(), secret: SECRET, intervalMs: 60_000 },
    ]) {
      await assert.rejects(verifier.subscribeRevocations({ feed: cuttableFeed(server), catchUp }), TypeError, JSON.stringify(catchUp));
    }
    assert.equal(verifier.revocationStaleness(), undefined, 'nothing was subscribed');
  });

  test('malicious: no catchUp at all is refused at call time; the silent mode must be chosen with catchUp: false', async () => {
    const verifier = createVerifier({ issuer: server.issuer, audience: server.audience, jwksUri: server.jwksUri });
    after(() => verifier.close());
    for (const options of [{ feed: cuttableFeed(server) }, { feed: cuttableFeed(server), catchUp: undefined }, { feed: cuttableFeed(server), catchUp: null }]) {
      await assert.rejects(verifier.subscribeRevocations(options as unknown as RevocationOptions), TypeError);
    }
    assert.equal(verifier.revocationStaleness(), undefined, 'nothing was subscribed');
  });

  test('catchUp: false and the feed link down beyond maxStalenessMs: every token refused as stale, unless whenStale: accept', async () => {
    const token = (await server.login('catchup_gina')).access_token;
    const clock = manualClock();
    const closed = createVerifier({ issuer: server.issuer, audience: server.audience, jwksUri: server.jwksUri, now: clock.now });
    const open = createVerifier({ issuer: server.issuer, audience: server.audience, jwksUri: server.jwksUri, now: clock.now });
    const closedFeed = cuttableFeed(server);
    const openFeed = cuttableFeed(server);
    const closedSub = await closed.subscribeRevocations({ feed: closedFeed, catchUp: false, maxStalenessMs: 30_000 });
    await open.subscribeRevocations({ feed: openFeed, catchUp: false, maxStalenessMs: 30_000, whenStale: 'accept' });
    try {
      assert.ok(await closed.verify(token), 'link up: accepted');
      assert.equal(closedSub.staleness, 0);
      closedFeed.cut();
      openFeed.cut();
      clock.advance(30_001);
      assert.equal(closedSub.staleness, 30_001);
      assert.equal(closed.revocationStaleness(), 30_001);
      await assert.rejects(closed.verify(token), isStale);
      assert.ok(await open.verify(token), 'fail-open was chosen: accepted on what is known');
      assert.equal(open.revocationStaleness(), 30_001);
      closedFeed.restore();
      assert.equal(closedSub.staleness, 0);
      assert.ok(await closed.verify(token), 'link back: accepted again');
    } finally {
      await Promise.all([closed.close(), open.close()]);
    }
  });
});

if (testStoreProfile === 'real' && hasRedisServer) {
  describe('revocation catch-up: the SDK link to a real Redis goes down and comes back', () => {
    let redis: ChildProcess | undefined;
    let port: number;
    let server: ListeningGatehouse;
    before(async () => {
      port = await freePort();
      redis = await startRedis(port);
      server = await startListeningGatehouse({ env: { GATEHOUSE_REDIS_URL: `redis://127.0.0.1:${port}`, GATEHOUSE_REVOCATION_FEED_SECRETS: SECRET } });
    });
    after(async () => {
      try {
        await server?.close();
      } finally {
        await killRedis(redis);
      }
    });

    test("a session revoked while the SDK's Redis was down is refused after the reconnect, without waiting for the periodic read", async () => {
      const { stores } = server.gatehouse;
      const verifier = createVerifier({ issuer: server.issuer, audience: server.audience, jwksUri: server.jwksUri });
      await verifier.subscribeRevocations({
        redisUrl: `redis://127.0.0.1:${port}`,
        prefix: stores.redisKeyPrefix,
        catchUp: { url: `${server.baseUrl}/revocations`, secret: SECRET, intervalMs: NO_PERIODIC_READ_MS, maxStalenessMs: 2 * NO_PERIODIC_READ_MS },
      });
      try {
        const login = await server.login('redis_gap_erin');
        await verifier.verify(login.access_token);
        await killRedis(redis);
        // RFC 7009 revocation of the refresh token ends the session; it needs no Redis (the
        // instance's own guard would be failing closed now), and its publish is lost.
        const revoke = await fetch(`${server.baseUrl}/auth/revoke`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams({ token: login.refresh_token }),
        });
        assert.equal(revoke.status, 200);
        assert.ok(await verifier.verify(login.access_token), 'nothing heard while Redis is down');
        redis = await startRedis(port);
        await eventually(refused(verifier, login.access_token), RECOVERY_DEADLINE_MS);
      } finally {
        await verifier.close();
      }
    });

    test("catchUp: false: the SDK's Redis going down makes the state stale (refused), and its return makes it fresh again", async () => {
      const verifier = createVerifier({ issuer: server.issuer, audience: server.audience, jwksUri: server.jwksUri });
      const subscription = await verifier.subscribeRevocations({
        redisUrl: `redis://127.0.0.1:${port}`,
        prefix: server.gatehouse.stores.redisKeyPrefix,
        catchUp: false,
        maxStalenessMs: 1,
      });
      try {
        const token = (await server.login('redis_gap_ivy')).access_token;
        assert.ok(await verifier.verify(token));
        await killRedis(redis);
        await eventually(() => verifier.verify(token).then(() => false, isStale), RECOVERY_DEADLINE_MS);
        assert.ok(subscription.staleness > 0);
        redis = await startRedis(port);
        await eventually(
          () =>
            verifier.verify(token).then(
              () => true,
              () => false,
            ),
          RECOVERY_DEADLINE_MS,
        );
        assert.equal(subscription.staleness, 0);
      } finally {
        await verifier.close();
      }
    });
  });
} else {
  describe('revocation catch-up: the SDK link to a real Redis', () => {
    test('skipped: needs the real pass and a redis-server binary', (ctx) => {
      ctx.diagnostic(`skipped (${testStoreProfile} pass${hasRedisServer ? '' : ', no redis-server'})`);
    });
  });
}
