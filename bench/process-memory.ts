import { readFile } from 'node:fs/promises';

/** Settle time before an idle RSS reading: the start's garbage collected, the process idle. */
export const SETTLE_MS = 2000;

/** A process's resident memory (VmRSS, Linux) in MB, after `settleMs` of waiting (0: at once). */
export async function rssMb(pid: number | undefined, settleMs = SETTLE_MS): Promise<number> {
  if (settleMs > 0) await new Promise((r) => setTimeout(r, settleMs));
  const status = await readFile(`/proc/${String(pid)}/status`, 'utf8');
  return Number(/^VmRSS:\s+(\d+) kB$/m.exec(status)?.[1]) / 1024;
}
