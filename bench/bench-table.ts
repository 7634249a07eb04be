/** Helpers the in-process benches share: a sequential rate, and the `a | b | c` table they print. */

/** Runs `work` `count` times one after the other; returns how many per second. */
export async function perSecond(count: number, work: (i: number) => Promise<void>): Promise<number> {
  const start = performance.now();
  for (let i = 0; i < count; i++) await work(i);
  return count / ((performance.now() - start) / 1000);
}

/** Prints rows as aligned columns after a blank line; the first row is the header. */
export function printTable(rows: readonly (readonly string[])[]): void {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)));
  console.log('');
  for (const row of rows) console.log(row.map((cell, i) => cell.padEnd(widths[i]!)).join(' | '));
}
