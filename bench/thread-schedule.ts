import { readFileSync } from 'node:fs';

/**
 * This process's main thread (the event loop): its time on a CPU and its time runnable but waiting
 * for one, in ms since it started (Linux `schedstat`: nanoseconds). undefined where procfs lacks it.
 */
export function mainThreadSchedule(): { readonly cpuMs: number; readonly waitMs: number } | undefined {
  try {
    const [cpu, wait] = readFileSync(`/proc/self/task/${String(process.pid)}/schedstat`, 'utf8')
      .trim()
      .split(' ')
      .map(Number);
    return cpu === undefined || wait === undefined ? undefined : { cpuMs: cpu / 1e6, waitMs: wait / 1e6 };
  } catch {
    return undefined;
  }
}
