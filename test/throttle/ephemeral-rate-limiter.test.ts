import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import { StoreUnavailableError } from '../../src/errors/errors.js';
import type { EphemeralStore } from '../../src/stores/ephemeral/ephemeral-store.js';
import { createMemoryStore } from '../../src/stores/ephemeral/memory-store.js';
import { createRedisStore } from '../../src/stores/ephemeral/redis-store.js';
import { EphemeralRateLimiter, RateLimiterRes } from '../../src/throttle/ephemeral-rate-limiter.js';
import { deleteRedisKeysWithPrefix, testStoreProfile } from '../support/test-stores.js';

/** A memory store on a clock the test moves. */
function clockedStore(): { store: EphemeralStore; now: () => number; advance(ms: number): void } {
  let t = 1_700_000_000_000;
  const now = () => t;
  return { store: createMemoryStore({ now }), now, advance: (ms) => (t += ms) };
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  assert.fail('expected a rejection');
}

/** A store whose every operation fails like Redis down. */
function brokenStore(): EphemeralStore {
  const fail = async (): Promise<never> => {
    throw new StoreUnavailableError('redis increment failed (connection end)');
  };
  return {
    kind: 'redis',
    set: fail,
    setIfAbsent: fail,
    get: fail,
    take: fail,
    delete: fail,
    increment: fail,
    ping: fail,
    publish: fail,
    subscribe: fail,
    close: async () => {},
  };
}

/** What rate-limiter-flexible needs from its store, on any EphemeralStore. */
function contract(open: () => Promise<{ store: EphemeralStore; cleanup(): Promise<void> }>): void {
  const withLimiter = async (points: number, run: (limiter: EphemeralRateLimiter, store: EphemeralStore) => Promise<void>) => {
    const { store, cleanup } = await open();
    try {
      await run(new EphemeralRateLimiter({ store, keyPrefix: 'test', points, durationSeconds: 60 }), store);
    } finally {
      await store.close();
      await cleanup();
    }
  };

  test('MALICIOUS: 50 concurrent consumes of one key let exactly `points` through', () =>
    withLimiter(10, async (limiter) => {
      const results = await Promise.allSettled(Array.from({ length: 50 }, () => limiter.consume('k')));
      assert.equal(results.filter((r) => r.status === 'fulfilled').length, 10);
      for (const r of results) if (r.status === 'rejected') assert.ok(r.reason instanceof RateLimiterRes, String(r.reason));
    }));

  test('consume: points allowed, then rejected with the time left in the window', () =>
    withLimiter(3, async (limiter) => {
      for (let i = 1; i <= 3; i++) assert.equal((await limiter.consume('k')).consumedPoints, i);
      const refused = await rejection(limiter.consume('k'));
      assert.ok(refused instanceof RateLimiterRes);
      assert.equal(refused.consumedPoints, 4);
      assert.ok(refused.msBeforeNext > 50_000 && refused.msBeforeNext <= 60_000, String(refused.msBeforeNext));
      // Another key has its own budget.
      assert.equal((await limiter.consume('other')).consumedPoints, 1);
    }));

  test('block: the key is over its points for exactly the block, read back by get', () =>
    withLimiter(3, async (limiter) => {
      await limiter.block('k', 600);
      const res = await limiter.get('k');
      assert.ok(res !== null);
      assert.equal(res.consumedPoints, 4);
      assert.ok(res.msBeforeNext > 590_000 && res.msBeforeNext <= 600_000, String(res.msBeforeNext));
      assert.ok((await rejection(limiter.consume('k'))) instanceof RateLimiterRes);
    }));

  test('get counts nothing; delete forgets the key and its block', () =>
    withLimiter(3, async (limiter) => {
      assert.equal(await limiter.get('k'), null);
      await limiter.penalty('k');
      await limiter.get('k');
      assert.equal((await limiter.get('k'))?.consumedPoints, 1);
      await limiter.block('k', 600);
      assert.equal(await limiter.delete('k'), true);
      assert.equal(await limiter.get('k'), null);
      assert.equal((await limiter.consume('k')).consumedPoints, 1);
      assert.equal(await limiter.delete('never'), false);
    }));

  test('keys are namespaced by the prefix', () =>
    withLimiter(1, async (limiter, store) => {
      const other = new EphemeralRateLimiter({ store, keyPrefix: 'other', points: 1, durationSeconds: 60 });
      await limiter.consume('k');
      assert.equal((await other.consume('k')).consumedPoints, 1);
      assert.equal(await store.get('test:k'), '1');
    }));

  test('what EphemeralStore cannot do atomically is refused, not emulated', () =>
    withLimiter(3, async (limiter) => {
      assert.ok((await rejection(limiter.consume('k', 2))) instanceof TypeError);
      assert.ok((await rejection(limiter.penalty('k', 5))) instanceof TypeError);
      assert.ok((await rejection(limiter.reward('k'))) instanceof TypeError);
    }));
}

describe('EphemeralRateLimiter on the memory store', () => {
  contract(async () => ({ store: createMemoryStore(), cleanup: async () => {} }));

  test('the window runs from the first point; after it the key starts over', async () => {
    const { store, now, advance } = clockedStore();
    const limiter = new EphemeralRateLimiter({ store, keyPrefix: 't', points: 2, durationSeconds: 60, now });
    await limiter.consume('k');
    advance(30_000);
    await limiter.consume('k');
    const refused = await rejection(limiter.consume('k'));
    assert.ok(refused instanceof RateLimiterRes);
    assert.equal(refused.msBeforeNext, 30_000);
    advance(30_000);
    assert.equal((await limiter.consume('k')).consumedPoints, 1);
  });

  test('a block ends on its own; get reports the exact time left', async () => {
    const { store, now, advance } = clockedStore();
    const limiter = new EphemeralRateLimiter({ store, keyPrefix: 't', points: 2, durationSeconds: 60, now });
    await limiter.block('k', 900);
    advance(899_000);
    assert.equal((await limiter.get('k'))?.msBeforeNext, 1_000);
    advance(1_000);
    assert.equal(await limiter.get('k'), null);
  });

  test('store down: the insurance limiter answers and the failure is reported', async () => {
    const errors: unknown[] = [];
    const insurance = new EphemeralRateLimiter({ store: createMemoryStore(), keyPrefix: 't', points: 2, durationSeconds: 60 });
    const limiter = new EphemeralRateLimiter({
      store: brokenStore(),
      keyPrefix: 't',
      points: 2,
      durationSeconds: 60,
      insurance,
      onStoreError: (e) => errors.push(e),
    });
    await limiter.consume('k');
    await limiter.consume('k');
    assert.ok((await rejection(limiter.consume('k'))) instanceof RateLimiterRes, 'still limited while the store is down');
    assert.ok(errors.length >= 3 && errors.every((e) => e instanceof StoreUnavailableError));
  });

  test('store down and no insurance: the store error, never a silent pass', async () => {
    const limiter = new EphemeralRateLimiter({ store: brokenStore(), keyPrefix: 't', points: 2, durationSeconds: 60 });
    assert.ok((await rejection(limiter.consume('k'))) instanceof StoreUnavailableError);
    assert.ok((await rejection(limiter.get('k'))) instanceof StoreUnavailableError);
  });

  test('caller mistakes are TypeErrors at construction', () => {
    const store = createMemoryStore();
    assert.throws(() => new EphemeralRateLimiter({ store, keyPrefix: 't', points: 0, durationSeconds: 60 }), TypeError);
    assert.throws(() => new EphemeralRateLimiter({ store, keyPrefix: 't', points: 1, durationSeconds: 0 }), TypeError);
    assert.throws(() => new EphemeralRateLimiter({ store, keyPrefix: 't', points: 1.5, durationSeconds: 60 }), TypeError);
  });
});

if (testStoreProfile === 'real') {
  describe('EphemeralRateLimiter on Redis', () => {
    contract(async () => {
      const url = process.env.GATEHOUSE_TEST_REDIS_URL as string;
      const keyPrefix = `gh-test:${randomBytes(6).toString('hex')}:`;
      const store = await createRedisStore({ url, keyPrefix });
      return {
        store,
        cleanup: async () => {
          await deleteRedisKeysWithPrefix(url, keyPrefix);
        },
      };
    });
  });
}
