import { readFileSync } from 'node:fs';

/** Linux reports /proc/stat in USER_HZ ticks, 100 per second on every mainstream architecture. */
const MS_PER_TICK = 10;

/**
 * CPU time the whole machine has spent busy (every core: user, nice, system, irq, softirq, steal),
 * in ms since boot; undefined where /proc/stat is missing. The difference over a load is what that
 * load cost every process together: server, load generator and database server alike.
 */
export function machineBusyMs(): number | undefined {
  try {
    const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
    const [user, nice, system, , , irq, softirq, steal] = fields;
    if ([user, nice, system, irq, softirq, steal].some((v) => v === undefined || !Number.isFinite(v))) return undefined;
    return (user! + nice! + system! + irq! + softirq! + steal!) * MS_PER_TICK;
  } catch {
    return undefined;
  }
}
