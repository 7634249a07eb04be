import { auditRecord, type AuditContext, type AuditLog } from './audit-event.js';

export interface ThrottleAuditOptions {
  readonly audit: Pick<AuditLog, 'record'>;
  readonly now: () => number;
  /** One row per (limit, address) per window at most (default 60 s). */
  readonly windowMs?: number;
  /** Distinct (limit, address) pairs remembered at once (default 10 000). */
  readonly maxKeys?: number;
  readonly onError: (error: unknown) => void;
}

/**
 * Records `request.throttled` audit rows without letting a flood turn into a flood of writes: a
 * refused request is written only if the same limit has not refused the same address within the
 * window. The subject is never looked up (that would cost the database round trip throttling is
 * there to save, and say whether the account exists); the limit's name is the reason.
 * Fire and forget: the 429 never waits for the row.
 */
export function createThrottleAuditor(options: ThrottleAuditOptions): (context: AuditContext, limit: string) => void {
  const windowMs = options.windowMs ?? 60_000;
  const maxKeys = options.maxKeys ?? 10_000;
  const lastWritten = new Map<string, number>();
  return (context, limit) => {
    const now = options.now();
    const key = `${limit} ${context.ip ?? ''}`;
    const last = lastWritten.get(key);
    if (last !== undefined && now - last < windowMs) return;
    lastWritten.delete(key);
    if (lastWritten.size >= maxKeys) {
      // Oldest first (Map keeps insertion order): dropping one only allows one more row later.
      const oldest = lastWritten.keys().next();
      if (oldest.done !== true) lastWritten.delete(oldest.value);
    }
    lastWritten.set(key, now);
    options.audit.record(auditRecord(context, { event: 'request.throttled', outcome: 'failure', reason: limit }, new Date(now))).catch(options.onError);
  };
}
