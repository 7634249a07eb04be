import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { StoreUnavailableError } from '../../src/errors/errors.js';
import type { EphemeralStore } from '../../src/stores/ephemeral/ephemeral-store.js';
import { createMemoryStore } from '../../src/stores/ephemeral/memory-store.js';
import { BACKOFF_CAP_MS, backoffMs, Limiter, STRIKE_MEMORY_SECONDS } from '../../src/throttle/limiter.js';
import type { LimitSpec } from '../../src/throttle/limit-spec.js';

const MINUTE = 60_000;

/** A limiter on a memory store and a clock the test moves. */
function harness(spec: LimitSpec, options: { store?: EphemeralStore } = {}) {
  let t = 1_700_000_000_000;
  const now = () => t;
  const errors: unknown[] = [];
  const limiter = new Limiter('LOGIN_USER_IP', spec, {
    store: options.store ?? createMemoryStore({ now }),
    insuranceStore: createMemoryStore({ now }),
    onStoreError: (e) => errors.push(e),
    now,
  });
  return { limiter, errors, advance: (ms: number) => (t += ms) };
}

describe('Limiter: failures with exponential backoff', () => {
  const spec = { count: 3, windowSeconds: 900 };

  test('MALICIOUS: the count-th failure blocks for one window; nothing is refused before it', async () => {
    const { limiter } = harness(spec);
    for (let i = 0; i < 3; i++) {
      assert.equal(await limiter.check('k'), undefined, `before failure ${i + 1}`);
      await limiter.recordFailure('k');
    }
    assert.deepEqual(await limiter.check('k'), { limit: 'LOGIN_USER_IP', retryAfterMs: 15 * MINUTE });
    assert.equal(await limiter.check('someone-else'), undefined);
  });

  test('MALICIOUS: after the block, each further failure doubles it: 15 m, 30 m, 1 h, then capped at 1 h', async () => {
    const { limiter, advance } = harness(spec);
    for (let i = 0; i < 3; i++) await limiter.recordFailure('k');
    const blocks: number[] = [];
    for (let round = 0; round < 5; round++) {
      const refusal = await limiter.check('k');
      assert.ok(refusal !== undefined, `round ${round}: refused`);
      blocks.push(refusal.retryAfterMs);
      advance(refusal.retryAfterMs);
      assert.equal(await limiter.check('k'), undefined, `round ${round}: the block ends on its own (no lockout)`);
      await limiter.recordFailure('k'); // one more failure is all it takes
    }
    assert.deepEqual(
      blocks.map((ms) => ms / MINUTE),
      [15, 30, 60, 60, 60],
    );
  });

  test('strikes are forgotten after their memory: the key gets its full budget again', async () => {
    const { limiter, advance } = harness(spec);
    for (let i = 0; i < 3; i++) await limiter.recordFailure('k');
    advance(STRIKE_MEMORY_SECONDS * 1000);
    for (let i = 0; i < 2; i++) {
      await limiter.recordFailure('k');
      assert.equal(await limiter.check('k'), undefined, `failure ${i + 1} after the memory`);
    }
  });

  test('failures spread beyond the window do not add up', async () => {
    const { limiter, advance } = harness(spec);
    await limiter.recordFailure('k');
    await limiter.recordFailure('k');
    advance(15 * MINUTE);
    await limiter.recordFailure('k');
    assert.equal(await limiter.check('k'), undefined);
  });

  test('reset forgets the failures and the strikes', async () => {
    const { limiter, advance } = harness(spec);
    for (let i = 0; i < 3; i++) await limiter.recordFailure('k');
    advance(15 * MINUTE);
    await limiter.reset('k');
    await limiter.recordFailure('k');
    assert.equal(await limiter.check('k'), undefined, 'one failure after a reset is not a further strike');
  });

  test('MALICIOUS: attempts in flight count against the budget', async () => {
    const { limiter } = harness(spec);
    await limiter.recordFailure('k');
    assert.equal(await limiter.check('k', 1), undefined);
    const refusal = await limiter.check('k', 2);
    assert.ok(refusal !== undefined);
    assert.equal(refusal.retryAfterMs, 1_000, 'only in-flight attempts fill it: the answer is near');
  });

  test('a window longer than the cap is never shortened by it', () => {
    assert.equal(backoffMs(2 * 3_600_000, 1), 2 * 3_600_000);
    assert.equal(backoffMs(2 * 3_600_000, 9), 2 * 3_600_000);
    assert.equal(backoffMs(60_000, 1), 60_000);
    assert.equal(backoffMs(60_000, 3), 240_000);
    assert.equal(backoffMs(60_000, 1_000), BACKOFF_CAP_MS);
  });
});

describe('Limiter: where the counters are', () => {
  const spec = { count: 3, windowSeconds: 900 };

  test('MALICIOUS: failures the insurance counted while the store refused writes are seen by the next check', async () => {
    const now = () => 1_700_000_000_000;
    // A store that answers reads but refuses new keys: what a full store did (issue 19).
    const inner = createMemoryStore({ now });
    const refuse = async (): Promise<never> => {
      throw new StoreUnavailableError('full');
    };
    const store: EphemeralStore = { ...inner, set: refuse, setIfAbsent: refuse, increment: refuse };
    const limiter = new Limiter('LOGIN_USER_IP', spec, { store, insuranceStore: createMemoryStore({ now }), onStoreError: () => {}, now });
    for (let i = 0; i < 3; i++) {
      assert.equal(await limiter.check('k'), undefined);
      assert.equal(await limiter.reserve('k'), undefined, 'the insurance has room');
      await limiter.recordFailure('k');
    }
    assert.equal((await limiter.check('k'))?.limit, 'LOGIN_USER_IP');
  });

  test('MALICIOUS: no room anywhere to count a failure: the attempt is refused before it is made, and no counter is pushed out', async () => {
    let t = 1_700_000_000_000;
    const now = () => t;
    const store = createMemoryStore({ now, maxEntries: 4 });
    const errors: unknown[] = [];
    const limiter = new Limiter('LOGIN_USER_IP', spec, { store, onStoreError: (e) => errors.push(e), now });
    assert.equal(await limiter.reserve('victim'), undefined);
    await limiter.recordFailure('victim');
    for (let i = 0; i < 3; i++) assert.equal(await limiter.reserve(`flood${i}`), undefined);
    assert.equal(await limiter.check('new'), undefined, 'nothing recorded for it');
    assert.deepEqual(await limiter.reserve('new'), { limit: 'LOGIN_USER_IP', retryAfterMs: 900_000 });
    assert.ok(errors.length > 0 && errors.every((e) => e instanceof StoreUnavailableError), 'reported');
    await limiter.recordFailure('victim');
    await limiter.recordFailure('victim');
    assert.equal((await limiter.check('victim'))?.limit, 'LOGIN_USER_IP', 'the victim’s counter is still there and still counts');
    t += 900_000;
    assert.equal(await limiter.reserve('new'), undefined, 'room again once counters expire');
  });
});

describe('Limiter: requests', () => {
  test('MALICIOUS: count requests pass, the next is refused until the window ends; no backoff', async () => {
    const { limiter, advance } = harness({ count: 2, windowSeconds: 60 });
    assert.equal(await limiter.consume('ip'), undefined);
    advance(10_000);
    assert.equal(await limiter.consume('ip'), undefined);
    assert.deepEqual(await limiter.consume('ip'), { limit: 'LOGIN_USER_IP', retryAfterMs: 50_000 });
    assert.deepEqual(await limiter.consume('ip'), { limit: 'LOGIN_USER_IP', retryAfterMs: 50_000 }, 'refused requests do not extend the wait');
    advance(50_000);
    assert.equal(await limiter.consume('ip'), undefined);
    assert.equal(await limiter.consume('ip'), undefined);
  });

  test('a flood of refused requests is answered from memory: no store round trip until the window ends', async () => {
    let t = 1_700_000_000_000;
    const now = () => t;
    const inner = createMemoryStore({ now });
    let increments = 0;
    const store: EphemeralStore = { ...inner, increment: (key, ttl) => (increments++, inner.increment(key, ttl)) };
    const limiter = new Limiter(
      'GLOBAL_IP',
      { count: 2, windowSeconds: 60 },
      { store, insuranceStore: createMemoryStore({ now }), onStoreError: () => {}, now },
    );
    for (let i = 0; i < 3; i++) await limiter.consume('ip');
    assert.equal(increments, 3);
    t += 20_000;
    for (let i = 0; i < 100; i++) assert.deepEqual(await limiter.consume('ip'), { limit: 'GLOBAL_IP', retryAfterMs: 40_000 });
    assert.equal(increments, 3);
    t += 40_000;
    assert.equal(await limiter.consume('ip'), undefined, 'the window is over: counted again');
    assert.equal(increments, 4);
  });

  test('store down: counted in process instead, and reported', async () => {
    const down = createMemoryStore();
    await down.close();
    const { limiter, errors } = harness({ count: 2, windowSeconds: 60 }, { store: down });
    assert.equal(await limiter.consume('ip'), undefined);
    assert.equal(await limiter.consume('ip'), undefined);
    assert.ok((await limiter.consume('ip')) !== undefined, 'the limit still holds');
    assert.ok(errors.length > 0 && errors.every((e) => e instanceof StoreUnavailableError));
  });
});
