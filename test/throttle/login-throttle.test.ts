import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { EphemeralStore } from '../../src/stores/ephemeral/ephemeral-store.js';
import { createMemoryStore } from '../../src/stores/ephemeral/memory-store.js';
import { Limiter } from '../../src/throttle/limiter.js';
import type { LimitName, LimitSpec } from '../../src/throttle/limit-spec.js';
import { createLoginThrottle, KNOWN_ADDRESSES_PER_ACCOUNT, type LoginIdentity, type LoginThrottle } from '../../src/throttle/login-throttle.js';

interface Limits {
  readonly userIp?: LimitSpec;
  readonly user?: LimitSpec;
  readonly ip?: LimitSpec;
}

/** The login throttle on a memory store that records every key written, and a clock. */
function harness(limits: Limits) {
  let t = 1_700_000_000_000;
  const now = () => t;
  const inner = createMemoryStore({ now });
  const keys = new Set<string>();
  const store: EphemeralStore = {
    ...inner,
    set: (key, value, ttl) => (keys.add(key), inner.set(key, value, ttl)),
    increment: (key, ttl) => (keys.add(key), inner.increment(key, ttl)),
  };
  const deps = { store, insuranceStore: createMemoryStore({ now }), onStoreError: () => {}, now };
  const make = (name: LimitName, spec: LimitSpec | undefined) => (spec === undefined ? undefined : new Limiter(name, spec, deps));
  const throttle = createLoginThrottle(
    { userIp: make('LOGIN_USER_IP', limits.userIp), user: make('LOGIN_USER', limits.user), ip: make('LOGIN_IP', limits.ip) },
    store,
  );
  return { throttle, keys, advance: (ms: number) => (t += ms) };
}

/** Runs one attempt to its end with the given outcome; returns the limit that refused it, if any. */
async function attempt(throttle: LoginThrottle, identity: LoginIdentity, outcome: 'failed' | 'succeeded' = 'failed'): Promise<string | undefined> {
  const decision = await throttle.begin(identity);
  if ('refused' in decision) return decision.refused.limit;
  try {
    await decision.attempt[outcome]();
  } finally {
    decision.attempt.end();
  }
  return undefined;
}

const W = { count: 3, windowSeconds: 900 };

describe('login throttle: malicious cases', () => {
  test('credential stuffing: one address, a new username each time, is stopped by LOGIN_IP', async () => {
    const { throttle } = harness({ userIp: W, user: W, ip: { count: 5, windowSeconds: 900 } });
    const results = [];
    for (let i = 0; i < 8; i++) results.push(await attempt(throttle, { username: `victim${i}`, ip: '198.51.100.9' }));
    assert.deepEqual(results, [undefined, undefined, undefined, undefined, undefined, 'LOGIN_IP', 'LOGIN_IP', 'LOGIN_IP']);
    assert.equal(await attempt(throttle, { username: 'victim0', ip: '198.51.100.10' }), undefined, 'another address is not affected');
  });

  test('one username from many addresses is stopped by LOGIN_USER, at every address the account never logged in from', async () => {
    const { throttle } = harness({ userIp: W, user: { count: 4, windowSeconds: 900 }, ip: W });
    const results = [];
    for (let i = 1; i <= 6; i++) results.push(await attempt(throttle, { username: 'alice', ip: `203.0.113.${i}` }));
    assert.deepEqual(results, [undefined, undefined, undefined, undefined, 'LOGIN_USER', 'LOGIN_USER']);
    assert.equal(await attempt(throttle, { username: 'bob', ip: '203.0.113.99' }), undefined, 'other accounts are not affected');
  });

  test('the owner keeps logging in from an address he used before while the attack goes on', async () => {
    const { throttle } = harness({ userIp: W, user: { count: 4, windowSeconds: 900 }, ip: W });
    assert.equal(await attempt(throttle, { username: 'alice', ip: '192.0.2.1' }, 'succeeded'), undefined);
    for (let i = 1; i <= 10; i++) await attempt(throttle, { username: 'alice', ip: `203.0.113.${i}` });
    assert.equal(await attempt(throttle, { username: 'alice', ip: '203.0.113.50' }), 'LOGIN_USER');
    assert.equal(await attempt(throttle, { username: 'alice', ip: '192.0.2.1' }), undefined, 'a typo from home is fine');
    assert.equal(await attempt(throttle, { username: 'alice', ip: '192.0.2.1' }, 'succeeded'), undefined);
  });

  test('a known address is still held to LOGIN_USER_IP and LOGIN_IP', async () => {
    const { throttle } = harness({ userIp: W, user: { count: 1, windowSeconds: 900 }, ip: { count: 100, windowSeconds: 900 } });
    await attempt(throttle, { username: 'alice', ip: '192.0.2.1' }, 'succeeded');
    for (let i = 0; i < 3; i++) assert.equal(await attempt(throttle, { username: 'alice', ip: '192.0.2.1' }), undefined);
    assert.equal(await attempt(throttle, { username: 'alice', ip: '192.0.2.1' }), 'LOGIN_USER_IP');
  });

  test('an IPv6 client rotating addresses inside its /64 is one address', async () => {
    const { throttle } = harness({ userIp: W });
    const results = [];
    for (let i = 1; i <= 4; i++) results.push(await attempt(throttle, { username: 'alice', ip: `2001:db8:7:7::${i.toString(16)}` }));
    assert.deepEqual(results, [undefined, undefined, undefined, 'LOGIN_USER_IP']);
  });

  test('the case or width of the username does not give a fresh budget', async () => {
    const { throttle } = harness({ userIp: W });
    for (const name of ['alice', 'Alice', 'ＡＬＩＣＥ']) await attempt(throttle, { username: name, ip: '203.0.113.1' });
    assert.equal(await attempt(throttle, { username: 'ALICE', ip: '203.0.113.1' }), 'LOGIN_USER_IP');
  });

  test('a burst sent at once is held to the budget: attempts in flight count', async () => {
    const { throttle } = harness({ userIp: W });
    const decisions = await Promise.all(Array.from({ length: 20 }, () => throttle.begin({ username: 'alice', ip: '203.0.113.1' })));
    const let_through = decisions.filter((d) => 'attempt' in d);
    assert.equal(let_through.length, 3);
    for (const d of let_through) if ('attempt' in d) d.attempt.end();
    // Ended without a verdict (say the request failed for another reason): the budget is back.
    assert.ok('attempt' in (await throttle.begin({ username: 'alice', ip: '203.0.113.1' })));
  });

  test('no raw username or address is ever a store key', async () => {
    const { throttle, keys } = harness({ userIp: W, user: W, ip: W });
    await attempt(throttle, { username: 'alice.secret', ip: '203.0.113.77' }, 'succeeded');
    await attempt(throttle, { username: 'alice.secret', ip: '203.0.113.77' });
    assert.ok(keys.size > 0);
    for (const key of keys) assert.ok(!/alice|203\.0\.113/.test(key), key);
  });
});

describe('login throttle: outcomes', () => {
  test('a success resets the username + address counter only', async () => {
    const { throttle } = harness({ userIp: W, user: { count: 5, windowSeconds: 900 } });
    await attempt(throttle, { username: 'alice', ip: '203.0.113.1' });
    await attempt(throttle, { username: 'alice', ip: '203.0.113.1' });
    await attempt(throttle, { username: 'alice', ip: '203.0.113.1' }, 'succeeded');
    for (let i = 0; i < 3; i++)
      assert.equal(await attempt(throttle, { username: 'alice', ip: '203.0.113.1' }), undefined, `failure ${i + 1} after the success`);
    // LOGIN_USER kept counting: 2 + 3 = 5 failures reach it at an address the account never used.
    assert.equal(await attempt(throttle, { username: 'alice', ip: '203.0.113.2' }), 'LOGIN_USER');
  });

  test('the known-address list is short: the oldest of more than ten is forgotten', async () => {
    const { throttle } = harness({ user: { count: 1, windowSeconds: 900 } });
    for (let i = 0; i <= KNOWN_ADDRESSES_PER_ACCOUNT; i++) await attempt(throttle, { username: 'alice', ip: `192.0.2.${i}` }, 'succeeded');
    await attempt(throttle, { username: 'alice', ip: '203.0.113.1' });
    assert.equal(await attempt(throttle, { username: 'alice', ip: '192.0.2.0' }), 'LOGIN_USER', 'the eleventh-newest is forgotten');
    assert.equal(await attempt(throttle, { username: 'alice', ip: '192.0.2.1' }), undefined);
    assert.equal(await attempt(throttle, { username: 'alice', ip: `192.0.2.${KNOWN_ADDRESSES_PER_ACCOUNT}` }), undefined);
  });

  test('no username (the request will fail before any hashing): only the address is counted', async () => {
    const { throttle } = harness({ userIp: W, user: W, ip: { count: 2, windowSeconds: 900 } });
    assert.equal(await attempt(throttle, { username: undefined, ip: '203.0.113.1' }), undefined);
    assert.equal(await attempt(throttle, { username: undefined, ip: '203.0.113.1' }), undefined);
    assert.equal(await attempt(throttle, { username: 'alice', ip: '203.0.113.1' }), 'LOGIN_IP');
  });

  test('every limit off: nothing is refused and nothing is stored but the known addresses', async () => {
    const { throttle, keys } = harness({});
    for (let i = 0; i < 50; i++) assert.equal(await attempt(throttle, { username: 'alice', ip: '203.0.113.1' }), undefined);
    assert.equal(keys.size, 0);
  });
});
