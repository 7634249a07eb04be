import { createMemoryStore, type MemoryStoreOptions } from '../src/stores/ephemeral/memory-store.js';

/**
 * `npx tsx bench/ephemeral-flood.ts`: what one new key costs once the in-process store is full (a
 * flood of new addresses or usernames), per `whenFull` policy. The store is filled to capacity with
 * live counters, then a flood of new keys is incremented one after another, as requests would.
 * Issue 19: a full store used to sweep every entry on each new key. Reports microseconds per key and
 * heap bytes per entry.
 */
const CAPACITY = Number(process.env.BENCH_CAPACITY ?? '100000');
const FLOOD = Number(process.env.BENCH_FLOOD ?? '100000');
const WINDOW_MS = 15 * 60_000;

async function run(options: MemoryStoreOptions): Promise<{ usPerKey: number; bytesPerEntry: number }> {
  globalThis.gc?.();
  const heapBefore = process.memoryUsage().heapUsed;
  const store = createMemoryStore({ maxEntries: CAPACITY, ...options });
  for (let i = 0; i < CAPACITY; i++) await store.increment(`throttle:global_ip:live-${i}`, WINDOW_MS);
  globalThis.gc?.();
  const bytesPerEntry = (process.memoryUsage().heapUsed - heapBefore) / CAPACITY;
  const start = process.hrtime.bigint();
  for (let i = 0; i < FLOOD; i++) await store.increment(`throttle:global_ip:flood-${i}`, WINDOW_MS).catch(() => undefined);
  const usPerKey = Number(process.hrtime.bigint() - start) / 1000 / FLOOD;
  await store.close();
  return { usPerKey, bytesPerEntry };
}

for (const whenFull of ['refuse', 'evict'] as const) {
  const { usPerKey, bytesPerEntry } = await run({ whenFull });
  console.log(`capacity ${CAPACITY}, ${FLOOD} new keys, whenFull=${whenFull}: ${usPerKey.toFixed(2)} µs per key, ~${Math.round(bytesPerEntry)} heap bytes per entry`);
}
