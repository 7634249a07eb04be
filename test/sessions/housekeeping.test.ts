import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { afterEach, beforeEach, describe, mock, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { startHousekeeping, type Housekeeping } from '../../src/sessions/housekeeping.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const INTERVAL = 10 * 60_000;

/** Purges still held open; afterEach lets them finish so stop() can return. */
const held: (() => void)[] = [];

/** A purge the test finishes by hand, to hold a run open. */
function controlledPurge() {
  let calls = 0;
  let release: ((value: number) => void) | undefined;
  let fail: ((error: Error) => void) | undefined;
  const purge = () => {
    calls++;
    return new Promise<number>((resolve, reject) => {
      release = resolve;
      fail = reject;
      held.push(() => resolve(0));
    });
  };
  return {
    purge,
    calls: () => calls,
    finish: (value = calls) => release?.(value),
    fail: (error: Error) => fail?.(error),
  };
}

const unexpected = (error: unknown): never => assert.fail(`unexpected purge error: ${String(error)}`);

/** Lets pending promise callbacks run (the purge's `then`, the scheduler's `finally`). */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('startHousekeeping', () => {
  let housekeeping: Housekeeping | undefined;
  beforeEach(() => mock.timers.enable({ apis: ['setTimeout'] }));
  afterEach(async () => {
    mock.timers.reset();
    const stopping = housekeeping?.stop();
    for (const finish of held.splice(0)) finish();
    await stopping;
    housekeeping = undefined;
  });

  test('the first run is one interval after start, the next one interval after it ended', async () => {
    const purge = controlledPurge();
    const results: number[] = [];
    housekeeping = startHousekeeping({ purge: purge.purge, intervalMs: INTERVAL, onResult: (r) => results.push(r), onError: unexpected });
    mock.timers.tick(INTERVAL - 1);
    assert.equal(purge.calls(), 0);
    mock.timers.tick(1);
    assert.equal(purge.calls(), 1);
    // A slow run: the clock passes several intervals while it works.
    mock.timers.tick(3 * INTERVAL);
    assert.equal(purge.calls(), 1, 'no second run while the first is running');
    purge.finish();
    await settle();
    assert.deepEqual(results, [1]);
    mock.timers.tick(INTERVAL - 1);
    assert.equal(purge.calls(), 1, 'the interval counts from the end of the run');
    mock.timers.tick(1);
    assert.equal(purge.calls(), 2);
  });

  test('runNow joins a running purge instead of starting a second one', async () => {
    const purge = controlledPurge();
    housekeeping = startHousekeeping({ purge: purge.purge, intervalMs: INTERVAL, onError: unexpected });
    const first = housekeeping.runNow();
    const second = housekeeping.runNow();
    mock.timers.tick(INTERVAL);
    assert.equal(purge.calls(), 1);
    assert.equal(first, second);
    purge.finish();
    await first;
  });

  test('stop waits for the running purge, then nothing runs again', async () => {
    const purge = controlledPurge();
    housekeeping = startHousekeeping({ purge: purge.purge, intervalMs: INTERVAL, onError: unexpected });
    mock.timers.tick(INTERVAL);
    assert.equal(purge.calls(), 1);
    let stopped = false;
    const stopping = housekeeping.stop().then(() => (stopped = true));
    await settle();
    assert.equal(stopped, false, 'stop must not resolve while the purge still uses the stores');
    purge.finish();
    await stopping;
    assert.equal(stopped, true);
    mock.timers.tick(10 * INTERVAL);
    await housekeeping.runNow();
    assert.equal(purge.calls(), 1);
  });

  test('a failed run is reported and the schedule goes on; a throwing reporter does not stop it either', async () => {
    const purge = controlledPurge();
    const errors: unknown[] = [];
    housekeeping = startHousekeeping({
      purge: purge.purge,
      intervalMs: INTERVAL,
      onResult: () => {
        throw new Error('reporter broke');
      },
      onError: (error) => {
        errors.push(error);
        throw new Error('reporter broke too');
      },
    });
    mock.timers.tick(INTERVAL);
    purge.fail(new Error('database down'));
    await settle();
    assert.deepEqual(
      errors.map((e) => (e as Error).message),
      ['database down'],
    );
    mock.timers.tick(INTERVAL);
    assert.equal(purge.calls(), 2);
    purge.finish();
    await settle();
    mock.timers.tick(INTERVAL);
    assert.equal(purge.calls(), 3);
  });

  test('an interval setTimeout cannot honour is a TypeError', () => {
    for (const intervalMs of [0, -1, 1.5, Number.NaN, 2 ** 31]) {
      assert.throws(() => startHousekeeping({ purge: async () => 0, intervalMs, onError: () => {} }), TypeError, String(intervalMs));
    }
  });
});

test('the timer never keeps the process alive', () => {
  // A process whose only work left is the housekeeping timer must exit by itself, at once.
  const script = `
    import { startHousekeeping } from './src/sessions/housekeeping.ts';
    startHousekeeping({ purge: async () => 0, intervalMs: 3_600_000, onError: () => {} });
  `;
  const started = Date.now();
  const result = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: ROOT, encoding: 'utf8', timeout: 30_000 });
  assert.equal(result.status, 0, result.stderr);
  assert.ok(Date.now() - started < 25_000);
});
