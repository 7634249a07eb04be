import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { StoreUnavailableError } from '../../src/errors/errors.js';
import type { EphemeralStore } from '../../src/stores/ephemeral/ephemeral-store.js';
import { createMemoryStore } from '../../src/stores/ephemeral/memory-store.js';
import { openEphemeralStore } from '../../src/stores/ephemeral/open-ephemeral-store.js';
import { createRedisStore } from '../../src/stores/ephemeral/redis-store.js';
import { deleteRedisKeysWithPrefix } from '../support/test-stores.js';

/** A store plus a way to let time pass: a clock step for memory, a real (short) wait for Redis. */
interface Harness {
  readonly store: EphemeralStore;
  elapse(ms: number): Promise<void>;
}

/** The behaviours every EphemeralStore must have. Each test gets a fresh store. */
function ephemeralStoreContract(open: () => Promise<Harness>): void {
  const withStore = async (test: (h: Harness) => Promise<void>): Promise<void> => {
    const harness = await open();
    try {
      await test(harness);
    } finally {
      await harness.store.close();
    }
  };

  it('set, get, overwrite and delete', () =>
    withStore(async ({ store }) => {
      assert.equal(await store.get('missing'), undefined);
      await store.set('k', 'v1', 60_000);
      assert.equal(await store.get('k'), 'v1');
      await store.set('k', 'v2', 60_000);
      assert.equal(await store.get('k'), 'v2');
      await store.delete('k');
      assert.equal(await store.get('k'), undefined);
      await store.delete('never-set');
    }));

  it('an entry disappears after its ttl', () =>
    withStore(async ({ store, elapse }) => {
      await store.set('short', 'v', 100);
      assert.equal(await store.get('short'), 'v');
      await elapse(250);
      assert.equal(await store.get('short'), undefined);
    }));

  it('setIfAbsent creates once, never overwrites, and works again after expiry', () =>
    withStore(async ({ store, elapse }) => {
      assert.equal(await store.setIfAbsent('once', 'first', 100), true);
      assert.equal(await store.setIfAbsent('once', 'second', 100), false);
      assert.equal(await store.get('once'), 'first');
      await elapse(250);
      assert.equal(await store.setIfAbsent('once', 'third', 60_000), true);
      assert.equal(await store.get('once'), 'third');
    }));

  it('setIfAbsent: exactly one of 50 concurrent callers wins', () =>
    withStore(async ({ store }) => {
      const results = await Promise.all(Array.from({ length: 50 }, (_, i) => store.setIfAbsent('ticket', `caller-${i}`, 60_000)));
      const winners = results.flatMap((won, i) => (won ? [i] : []));
      assert.equal(winners.length, 1);
      assert.equal(await store.get('ticket'), `caller-${winners[0]}`);
    }));

  it('take returns the value once and deletes it; a missing or expired key takes as undefined', () =>
    withStore(async ({ store, elapse }) => {
      assert.equal(await store.take('missing'), undefined);
      await store.set('ticket', 'binding', 60_000);
      assert.equal(await store.take('ticket'), 'binding');
      assert.equal(await store.take('ticket'), undefined, 'MALICIOUS: a second take (a replay) gets nothing');
      assert.equal(await store.get('ticket'), undefined);
      await store.set('short', 'v', 100);
      await elapse(250);
      assert.equal(await store.take('short'), undefined, 'an expired entry is not taken');
    }));

  it('MALICIOUS: take: of 50 concurrent takes of one key exactly one gets the value', () =>
    withStore(async ({ store }) => {
      await store.set('ticket', 'the-binding', 60_000);
      const results = await Promise.all(Array.from({ length: 50 }, () => store.take('ticket')));
      assert.deepEqual(
        results.filter((r) => r !== undefined),
        ['the-binding'],
      );
      assert.equal(await store.get('ticket'), undefined);
    }));

  it('increment: 100 concurrent callers get 1..100 once each, and the first ttl is kept', () =>
    withStore(async ({ store, elapse }) => {
      const results = await Promise.all(Array.from({ length: 100 }, () => store.increment('counter', 60_000)));
      assert.deepEqual(
        results.map((r) => r.value).sort((a, b) => a - b),
        Array.from({ length: 100 }, (_, i) => i + 1),
      );
      for (const { ttlMs } of results) assert.ok(ttlMs > 50_000 && ttlMs <= 60_000, `ttl ${ttlMs}`);

      await elapse(20);
      const later = await store.increment('counter', 1_000);
      assert.equal(later.value, 101);
      // The second ttl is ignored: the window still ends where the first call put it.
      assert.ok(later.ttlMs > 50_000 && later.ttlMs <= 60_000 - 20, `ttl ${later.ttlMs}`);
      assert.equal(await store.get('counter'), '101');
    }));

  it('increment starts again at 1 once the window expired', () =>
    withStore(async ({ store, elapse }) => {
      assert.deepEqual(await store.increment('window', 100), { value: 1, ttlMs: 100 });
      assert.equal((await store.increment('window', 100)).value, 2);
      await elapse(250);
      const fresh = await store.increment('window', 60_000);
      assert.equal(fresh.value, 1);
      assert.ok(fresh.ttlMs > 59_000 && fresh.ttlMs <= 60_000, `ttl ${fresh.ttlMs}`);
    }));

  it('increment on a value that is not a counter is a caller error (TypeError)', () =>
    withStore(async ({ store }) => {
      await store.set('text', 'not-a-number', 60_000);
      await assert.rejects(store.increment('text', 60_000), TypeError);
      assert.equal(await store.get('text'), 'not-a-number');
    }));

  it('rejects a ttl that is not a positive whole number of milliseconds', () =>
    withStore(async ({ store }) => {
      for (const ttl of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
        await assert.rejects(store.set('k', 'v', ttl), TypeError);
        await assert.rejects(store.setIfAbsent('k', 'v', ttl), TypeError);
        await assert.rejects(store.increment('k', ttl), TypeError);
      }
      assert.equal(await store.get('k'), undefined);
    }));

  it('pub/sub: every subscriber of a channel gets its messages in order, other channels none', () =>
    withStore(async ({ store }) => {
      const got: Record<string, string[]> = { a1: [], a2: [], b: [] };
      const listener = (into: string[]) => ({ onMessage: (m: string) => into.push(m), onResubscribed: () => assert.fail('no outage here') });
      const subs = [
        await store.subscribe('chan-a', listener(got.a1!)),
        await store.subscribe('chan-a', listener(got.a2!)),
        await store.subscribe('chan-b', listener(got.b!)),
      ];
      for (const m of ['1', '2', '3']) await store.publish('chan-a', m);
      await waitFor(() => got.a1!.length === 3 && got.a2!.length === 3);
      assert.deepEqual(got.a1, ['1', '2', '3']);
      assert.deepEqual(got.a2, ['1', '2', '3']);
      assert.deepEqual(got.b, []);
      assert.ok(Date.now() - subs[0]!.confirmedAt() < 3_000, 'a live subscription is confirmed recently');
      await subs[1]!.close();
      await store.publish('chan-a', '4');
      await waitFor(() => got.a1!.length === 4);
      await sleep(50);
      assert.deepEqual(got.a2, ['1', '2', '3'], 'a closed subscription receives nothing more');
      for (const s of subs) await s.close();
    }));

  it('ping answers while open; every call fails with StoreUnavailableError after close', async () => {
    const { store } = await open();
    await store.ping();
    await store.close();
    await store.close();
    await assert.rejects(store.ping(), StoreUnavailableError);
    await assert.rejects(store.get('k'), StoreUnavailableError);
    await assert.rejects(store.take('k'), StoreUnavailableError);
    await assert.rejects(store.set('k', 'v', 1_000), StoreUnavailableError);
    await assert.rejects(store.increment('k', 1_000), StoreUnavailableError);
    await assert.rejects(store.publish('c', 'm'), StoreUnavailableError);
    await assert.rejects(store.subscribe('c', { onMessage: () => undefined, onResubscribed: () => undefined }), StoreUnavailableError);
  });
}

async function waitFor(condition: () => boolean, timeoutMs = 3_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await sleep(5);
  }
}

describe('memory ephemeral store', () => {
  ephemeralStoreContract(async () => {
    let t = 1_700_000_000_000;
    const store = createMemoryStore({ now: () => t });
    return { store, elapse: async (ms) => void (t += ms) };
  });

  it('expires exactly at ttl (injected clock)', async () => {
    let t = 0;
    const store = createMemoryStore({ now: () => t });
    await store.set('k', 'v', 1_000);
    t = 999;
    assert.equal(await store.get('k'), 'v');
    t = 1_000;
    assert.equal(await store.get('k'), undefined);
    await store.close();
  });

  it('refuses new keys when full instead of evicting, until entries expire', async () => {
    let t = 0;
    const store = createMemoryStore({ now: () => t, maxEntries: 3 });
    await store.set('revoked:1', '1', 1_000);
    await store.set('revoked:2', '1', 1_000);
    await store.increment('rate:a', 1_000);
    await assert.rejects(store.set('revoked:3', '1', 1_000), StoreUnavailableError);
    await assert.rejects(store.setIfAbsent('ticket', '1', 1_000), StoreUnavailableError);
    await assert.rejects(store.increment('rate:b', 1_000), StoreUnavailableError);
    // Nothing was pushed out, and existing keys still update.
    assert.equal(await store.get('revoked:1'), '1');
    await store.set('revoked:2', '2', 1_000);
    assert.equal((await store.increment('rate:a', 1_000)).value, 2);
    t = 1_000;
    await store.set('revoked:3', '1', 1_000);
    assert.equal(await store.get('revoked:3'), '1');
    await store.close();
  });

  it('full, "evict": the entry closest to expiry goes, across ttls; an increment keeps its place, a set moves it', async () => {
    let t = 0;
    const store = createMemoryStore({ now: () => t, maxEntries: 3, whenFull: 'evict' });
    await store.set('long', '1', 10_000);
    await store.increment('short', 1_000);
    t = 10;
    await store.set('middle', '1', 5_000);
    await store.increment('short', 1_000); // still expires at 1 000
    await store.set('fourth', '1', 5_000);
    assert.equal(await store.get('short'), undefined, 'the soonest to expire went first');
    await store.set('long', '2', 100); // re-written: now the soonest
    await store.set('fifth', '1', 5_000);
    assert.deepEqual(await Promise.all(['long', 'middle', 'fourth', 'fifth'].map((k) => store.get(k))), [undefined, '1', '1', '1']);
    assert.equal(store.stats().entries, 3);
    await store.close();
  });

  it('full, "refuse": expired entries are reclaimed (soonest first) before anything is refused', async () => {
    let t = 0;
    const store = createMemoryStore({ now: () => t, maxEntries: 3 });
    await store.set('a', '1', 1_000);
    await store.set('b', '1', 2_000);
    await store.set('c', '1', 60_000);
    t = 2_000;
    await store.set('d', '1', 60_000);
    await store.set('e', '1', 60_000);
    await assert.rejects(store.increment('f', 60_000), StoreUnavailableError);
    assert.deepEqual(await Promise.all(['c', 'd', 'e'].map((k) => store.get(k))), ['1', '1', '1']);
    await store.close();
  });

  it('MALICIOUS: a flood of new keys at capacity costs the same per key whatever the size (no sweep of the store)', async () => {
    const perKey = async (maxEntries: number, whenFull: 'refuse' | 'evict'): Promise<number> => {
      let t = 0;
      const store = createMemoryStore({ now: () => t, maxEntries, whenFull });
      // Three ttls, as a limiter writes: its window, its strike memory, a block.
      for (let i = 0; i < maxEntries; i++) await store.increment(`live:${i}`, [900_000, 21_600_000, 1_800_000][i % 3] as number);
      t = 1;
      const before = store.stats().examined;
      const flood = 5_000;
      for (let i = 0; i < flood; i++) await store.increment(`flood:${i}`, 60_000).catch(() => undefined);
      assert.equal(store.stats().entries, maxEntries, 'memory stays bounded');
      const examined = (store.stats().examined - before) / flood;
      await store.close();
      return examined;
    };
    for (const whenFull of ['refuse', 'evict'] as const) {
      const small = await perKey(100, whenFull);
      const large = await perKey(20_000, whenFull);
      assert.ok(small <= 4, `${whenFull}: ${small} entries looked at per new key`);
      assert.equal(large, small, `${whenFull}: 200 times the entries, the same work per key`);
    }
  });

  it('rejects a maxEntries that is not a positive whole number', () => {
    assert.throws(() => createMemoryStore({ maxEntries: 0 }), TypeError);
    assert.throws(() => createMemoryStore({ maxEntries: 1.5 }), TypeError);
  });

  it('openEphemeralStore picks memory without a Redis URL', async () => {
    const store = await openEphemeralStore({ redisUrl: undefined, redisKeyPrefix: 'gatehouse:' });
    assert.equal(store.kind, 'memory');
    await store.close();
  });
});

const redisUrl = process.env.GATEHOUSE_TEST_REDIS_URL;
if (redisUrl !== undefined && redisUrl !== '') {
  describe('redis ephemeral store', () => {
    const runPrefix = `gh-test:${randomBytes(6).toString('hex')}:`;
    let storeCount = 0;
    after(() => deleteRedisKeysWithPrefix(redisUrl, runPrefix));

    // Each store gets its own sub-prefix, so tests cannot see each other's keys.
    ephemeralStoreContract(async () => {
      const store = await createRedisStore({ url: redisUrl, keyPrefix: `${runPrefix}${++storeCount}:` });
      return { store, elapse: (ms) => sleep(ms) };
    });

    it('prefixes every key', async () => {
      const keyPrefix = `${runPrefix}raw:`;
      const store = await createRedisStore({ url: redisUrl, keyPrefix });
      const raw = new Redis(redisUrl);
      try {
        await store.set('k', 'v', 60_000);
        await store.increment('n', 60_000);
        assert.equal(await raw.get(`${keyPrefix}k`), 'v');
        assert.equal(await raw.get(`${keyPrefix}n`), '1');
        const pttl = await raw.pttl(`${keyPrefix}n`);
        assert.ok(pttl > 0 && pttl <= 60_000, `pttl ${pttl}`);
      } finally {
        await store.close();
        raw.disconnect();
      }
    });

    it('pub/sub reaches another store on the same prefix (another instance), never one on another prefix', async () => {
      const prefix = `${runPrefix}pubsub:`;
      const [publisher, sameDeployment, otherDeployment] = await Promise.all([
        createRedisStore({ url: redisUrl, keyPrefix: prefix }),
        createRedisStore({ url: redisUrl, keyPrefix: prefix }),
        createRedisStore({ url: redisUrl, keyPrefix: `${runPrefix}other:` }),
      ]);
      const same: string[] = [];
      const other: string[] = [];
      try {
        await sameDeployment.subscribe('revocations', { onMessage: (m) => same.push(m), onResubscribed: () => undefined });
        await otherDeployment.subscribe('revocations', { onMessage: (m) => other.push(m), onResubscribed: () => undefined });
        await publisher.publish('revocations', 'hello');
        await waitFor(() => same.length === 1);
        await sleep(50);
        assert.deepEqual(same, ['hello']);
        assert.deepEqual(other, []);
      } finally {
        await Promise.all([publisher.close(), sameDeployment.close(), otherDeployment.close()]);
      }
    });

    it('MALICIOUS: take: two instances (two connections) racing 25 takes each of one ticket: exactly one value in all', async () => {
      const prefix = `${runPrefix}take-race:`;
      const [a, b] = await Promise.all([createRedisStore({ url: redisUrl, keyPrefix: prefix }), createRedisStore({ url: redisUrl, keyPrefix: prefix })]);
      try {
        for (let round = 0; round < 5; round++) {
          await a.set(`ticket:${round}`, `binding-${round}`, 60_000);
          const takes = Array.from({ length: 50 }, (_, i) => (i % 2 === 0 ? a : b).take(`ticket:${round}`));
          const won = (await Promise.all(takes)).filter((r) => r !== undefined);
          assert.deepEqual(won, [`binding-${round}`], `round ${round}`);
        }
      } finally {
        await Promise.all([a.close(), b.close()]);
      }
    });

    it('openEphemeralStore picks redis when a URL is set', async () => {
      const store = await openEphemeralStore({ redisUrl, redisKeyPrefix: `${runPrefix}open:` });
      assert.equal(store.kind, 'redis');
      await store.ping();
      await store.close();
    });
  });
}

// Needs no Redis server: nothing listens on port 1, which is the point.
describe('redis ephemeral store when Redis is unreachable', () => {
  it('fails fast with StoreUnavailableError and never leaks the password', async () => {
    const reasons: string[] = [];
    const started = performance.now();
    const store = await createRedisStore({
      url: 'redis://:s3cret-pw@127.0.0.1:1/0',
      keyPrefix: 'gh-test:unreachable:',
      onConnectionError: (reason) => reasons.push(reason),
    });
    try {
      for (const call of [() => store.ping(), () => store.get('k'), () => store.increment('k', 1_000)]) {
        await assert.rejects(call(), (err: unknown) => {
          assert.ok(err instanceof StoreUnavailableError);
          assert.equal(err.code, 'ERR_STORE_UNAVAILABLE');
          assert.ok(!`${err.message} ${err.logReason} ${String(err.cause)}`.includes('s3cret-pw'));
          return true;
        });
      }
      assert.ok(performance.now() - started < 3_000, `took ${Math.round(performance.now() - started)} ms`);
      assert.ok(reasons.length > 0);
      assert.ok(reasons.every((r) => !r.includes('s3cret-pw')));
    } finally {
      await store.close();
    }
  });
});
