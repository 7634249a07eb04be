import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { redisRevocationFeed } from '../../packages/verify/src/index.js';
import { StoreUnavailableError } from '../../src/errors/errors.js';
import type { EphemeralStore } from '../../src/stores/ephemeral/ephemeral-store.js';
import { createRedisStore } from '../../src/stores/ephemeral/redis-store.js';
import { startHoldingProxy, type HoldingProxy } from '../support/holding-proxy.js';
import { freePort, hasRedisServer, killRedis, startRedis } from '../support/private-redis.js';
import { testStoreProfile } from '../support/test-stores.js';

/**
 * Flake of test/sdk/revocation-catch-up.test.ts: an unhandled `Error: Connection is closed.` from
 * ioredis when Redis dropped. ioredis renews a subscription after a reconnect with a SUBSCRIBE
 * whose promise nobody holds; closing the connection (or Redis dying) before it is answered
 * rejected that promise unhandled, which crashes a server process (Node's default for an
 * unhandled rejection). Each test pins one moment of a reconnect with a proxy that holds Redis's
 * answers, kills the private Redis (SIGKILL) around it, and requires that no rejection goes
 * unhandled.
 */

const INFO = /\r\ninfo\r\n/i;
const SUBSCRIBE = /\r\nsubscribe\r\n/i;
const QUIT = /\r\nquit\r\n/i;
/** For a reconnect to happen at all; generous, never a speed assertion. */
const DEADLINE_MS = 15_000;
/** Long enough that no heartbeat PING runs in a test: the held requests are the only ones. */
const NO_HEARTBEAT_MS = 600_000;
/** Time for a rejection to surface once its connection closed (a few ticks are enough). */
const SETTLE_MS = 250;

async function within<T>(promise: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not within ${DEADLINE_MS} ms`)), DEADLINE_MS);
  });
  try {
    return await Promise.race([promise, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

async function until(check: () => boolean, what: string): Promise<void> {
  const start = performance.now();
  while (!check()) {
    if (performance.now() - start > DEADLINE_MS) throw new Error(`${what}: not within ${DEADLINE_MS} ms`);
    await sleep(10);
  }
}

if (testStoreProfile === 'real' && hasRedisServer) {
  describe('Redis dropping under a subscription: no ioredis promise is left to reject unhandled', () => {
    let port: number;
    let redis: ChildProcess | undefined;
    let proxy: HoldingProxy;
    const unhandled: unknown[] = [];
    const collect = (reason: unknown): void => {
      unhandled.push(reason);
    };
    const noneUnhandled = (): void => assert.deepEqual(unhandled.map(String), [], 'rejections nobody handled');

    beforeEach(async () => {
      unhandled.length = 0;
      process.on('unhandledRejection', collect);
      port = await freePort();
      redis = await startRedis(port);
      proxy = await startHoldingProxy(port);
    });
    afterEach(async () => {
      try {
        await proxy.close();
        await killRedis(redis);
      } finally {
        process.off('unhandledRejection', collect);
      }
    });

    /** SIGKILL, then Redis back; the next reconnects (`count` of them) are held once they send `request`. */
    const killAndHoldReconnect = async (request: RegExp, count = 1): Promise<void> => {
      // Refused while Redis is away, so no reconnect can slip in before the hold is set.
      proxy.refuseConnections(true);
      await killRedis(redis);
      redis = await startRedis(port);
      const held = proxy.holdAnswersAfter(request, count);
      proxy.refuseConnections(false);
      await within(held, `reconnect sending ${String(request)}`);
    };

    const openStore = async (reasons: string[] = []): Promise<EphemeralStore> =>
      createRedisStore({ url: proxy.url, keyPrefix: 'gh-test:drop:', subscriptionHeartbeatMs: NO_HEARTBEAT_MS, onConnectionError: (r) => reasons.push(r) });

    test('the store closed while a reconnect waits for its ready check: no renewal is left to reject', async () => {
      const store = await openStore();
      await store.subscribe('revocations', { onMessage: () => undefined, onResubscribed: () => undefined });
      // Both connections (commands, subscriber) reconnect; both are held at INFO.
      await killAndHoldReconnect(INFO, 2);
      await store.close();
      // Redis answers INFO after the close was asked: ioredis goes "ready" on a closing connection.
      proxy.release();
      await sleep(SETTLE_MS);
      noneUnhandled();
    });

    test('Redis killed while the renewed SUBSCRIBE is unanswered and the close has sent QUIT: "Connection is closed." is handled', async () => {
      const store = await openStore();
      await store.subscribe('revocations', { onMessage: () => undefined, onResubscribed: () => undefined });
      await killAndHoldReconnect(SUBSCRIBE);
      const quitSent = proxy.seen(QUIT);
      const closing = store.close();
      await within(quitSent, 'QUIT sent');
      await killRedis(redis);
      proxy.cut();
      await within(closing, 'the store closed');
      await sleep(SETTLE_MS);
      noneUnhandled();
    });

    test('a renewed SUBSCRIBE answered past the command timeout: reported, renewed on a fresh connection, no rejection unhandled', async () => {
      const reasons: string[] = [];
      const store = await openStore(reasons);
      const heard: string[] = [];
      let resubscribed = 0;
      try {
        await store.subscribe('revocations', { onMessage: (m) => heard.push(m), onResubscribed: () => (resubscribed += 1) });
        await killAndHoldReconnect(SUBSCRIBE);
        await until(() => unhandled.length > 0 || reasons.some((r) => /subscribe/i.test(r)), 'the renewal failing');
        proxy.release();
        await sleep(SETTLE_MS);
        noneUnhandled();
        assert.ok(
          reasons.some((r) => /redis resubscribe failed/.test(r)),
          reasons.join('\n'),
        );
        await until(() => resubscribed > 0, 'the subscription renewed');
        await store.publish('revocations', 'after the renewal');
        await until(() => heard.includes('after the renewal'), 'a message after the renewal');
      } finally {
        await store.close();
      }
    });

    test('Redis killed before the first SUBSCRIBE is answered: subscribe rejects with StoreUnavailableError, nothing unhandled', async () => {
      const store = await openStore();
      try {
        const held = proxy.holdAnswersAfter(SUBSCRIBE);
        const subscribing = store.subscribe('revocations', { onMessage: () => undefined, onResubscribed: () => undefined });
        await within(held, 'SUBSCRIBE sent');
        await killRedis(redis);
        proxy.cut();
        await assert.rejects(subscribing, StoreUnavailableError);
      } finally {
        await store.close();
      }
      await sleep(SETTLE_MS);
      noneUnhandled();
    });

    test('the SDK feed closed while its renewed SUBSCRIBE is unanswered, then the link dies: nothing unhandled', async () => {
      const feed = redisRevocationFeed({ redisUrl: proxy.url, prefix: 'gh-test:drop:' });
      let lost = 0;
      const subscription = await feed.subscribe(
        () => undefined,
        () => undefined,
        () => (lost += 1),
      );
      await killAndHoldReconnect(SUBSCRIBE);
      assert.equal(lost, 1, 'the drop was reported');
      await subscription.close();
      proxy.cut();
      await sleep(SETTLE_MS);
      noneUnhandled();
    });
  });
} else {
  describe('Redis dropping under a subscription', () => {
    test('skipped: needs the real pass and a redis-server binary', (ctx) => {
      ctx.diagnostic(`skipped (${testStoreProfile} pass${hasRedisServer ? '' : ', no redis-server'})`);
    });
  });
}
