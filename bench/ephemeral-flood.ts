import { fileURLToPath } from 'node:url';
import { createMemoryStore, type MemoryStoreOptions } from '../src/stores/ephemeral/memory-store.js';

/**
 * Part of `npm run bench` (also alone: `npx tsx bench/ephemeral-flood.ts`): what one new key costs once the in-process store is full (a
 * flood of new addresses or usernames), per `whenFull` policy. The store is filled to capacity with
 * live counters, then a flood of new keys is incremented one after another, as requests would.
 * Issue 19: a full store used to sweep every entry on each new key. Reports microseconds per key against the
 * same flood into a store with room.
 */
const CAPACITY = Number(process.env.BENCH_CAPACITY ?? '100000');
const FLOOD = Number(process.env.BENCH_FLOOD ?? '100000');
const WINDOW_MS = 15 * 60_000;

async function run(options: MemoryStoreOptions, prefill = CAPACITY): Promise<{ usPerKey: number }> {
  // The baseline is the same flood into a store with room for it: what a new key costs at all.
  const store = createMemoryStore({ maxEntries: prefill === 0 ? FLOOD : CAPACITY, ...options });
  for (let i = 0; i < prefill; i++) await store.increment(`throttle:global_ip:live-${i}`, WINDOW_MS);
  const start = process.hrtime.bigint();
  for (let i = 0; i < FLOOD; i++) await store.increment(`throttle:global_ip:flood-${i}`, WINDOW_MS).catch(() => undefined);
  const usPerKey = Number(process.hrtime.bigint() - start) / 1000 / FLOOD;
  await store.close();
  return { usPerKey };
}

export async function runEphemeralFloodBench(): Promise<void> {
  const baseline = await run({ whenFull: 'refuse' }, 0);
  const rows = [['in-process store, one new key (issue 19 flood)', 'result', 'baseline (same run)', 'ratio', 'target', '']];
  for (const whenFull of ['refuse', 'evict'] as const) {
    const { usPerKey } = await run({ whenFull });
    const ratio = usPerKey / baseline.usPerKey;
    rows.push([
      `full at ${CAPACITY.toLocaleString('en-US')} entries, whenFull=${whenFull}`,
      `${usPerKey.toFixed(2)} µs`,
      `store with room: ${baseline.usPerKey.toFixed(2)} µs`,
      `${ratio.toFixed(1)}x`,
      '<= 10x (O(1))',
      ratio <= 10 ? 'ok' : 'MISSED',
    ]);
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)));
  console.log('');
  for (const row of rows) console.log(row.map((cell, i) => cell.padEnd(widths[i]!)).join(' | '));
  console.log(
    `${FLOOD.toLocaleString('en-US')} new keys per row (BENCH_CAPACITY, BENCH_FLOOD to change); a refused key builds its error, hence refuse > evict.`,
  );
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await runEphemeralFloodBench();
