import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ExpiryQueues, type QueuedEntry } from '../../src/stores/ephemeral/expiry-queues.js';

const entry = (key: string, writtenAt: number, ttlMs: number): QueuedEntry => ({
  key,
  value: '1',
  expiresAt: writtenAt + ttlMs,
  ttlMs,
  prev: undefined,
  next: undefined,
});

describe('ExpiryQueues', () => {
  it('soonest is the earliest expiry across ttls, and follows unlinks from anywhere in a queue', () => {
    const queues = new ExpiryQueues();
    const a = entry('a', 0, 1_000);
    const b = entry('b', 10, 1_000);
    const c = entry('c', 20, 1_000);
    const long = entry('long', 0, 5_000);
    const short = entry('short', 500, 100);
    for (const e of [long, a, b, c, short]) queues.append(e);
    assert.equal(queues.count, 3);
    assert.equal(queues.soonest()?.key, 'short');
    queues.unlink(short);
    assert.equal(queues.count, 2, 'an emptied queue goes');
    assert.equal(queues.soonest()?.key, 'a');
    queues.unlink(b);
    queues.unlink(a);
    assert.equal(queues.soonest()?.key, 'c');
    queues.unlink(c);
    queues.unlink(c); // twice: harmless
    assert.equal(queues.soonest()?.key, 'long');
    queues.unlink(long);
    assert.equal(queues.soonest(), undefined);
    assert.equal(queues.count, 0);
  });

  it('drainExpired takes exactly the expired entries, from each head, and leaves the rest linked', () => {
    const queues = new ExpiryQueues();
    const entries = [entry('a1', 0, 100), entry('a2', 50, 100), entry('a3', 200, 100), entry('b1', 0, 120), entry('b2', 100, 120)];
    for (const e of entries) queues.append(e);
    assert.deepEqual([...queues.drainExpired(150)].map((e) => e.key).sort(), ['a1', 'a2', 'b1']);
    assert.deepEqual([...queues.drainExpired(150)], []);
    assert.equal(queues.soonest()?.key, 'b2');
    assert.deepEqual([...queues.drainExpired(1_000)].map((e) => e.key).sort(), ['a3', 'b2']);
    assert.equal(queues.count, 0);
  });
});
