import { z } from 'zod';
import type { StoredAuditRecord } from '../../audit/audit-event.js';

/** What a user sees of their own events (`GET /me/events`). */
export const ownAuditEventSchema = z.object({
  id: z.number().int(),
  occurred_at: z.string(),
  event: z.string(),
  outcome: z.string(),
  reason: z.string().nullable(),
  session_id: z.string().nullable(),
  ip: z.string().nullable(),
  user_agent: z.string().nullable(),
  /** True when an administrator (someone other than the user) made the change. */
  by_administrator: z.boolean(),
});

/** What an admin sees (`GET /admin/audit`): also who acted, on whom, in which request. */
export const auditEventSchema = ownAuditEventSchema.omit({ by_administrator: true }).extend({
  actor_id: z.string().nullable(),
  subject_id: z.string().nullable(),
  request_id: z.string().nullable(),
});

export function auditEventView(r: StoredAuditRecord): z.infer<typeof auditEventSchema> {
  return {
    id: r.id,
    occurred_at: r.occurredAt.toISOString(),
    event: r.event,
    outcome: r.outcome,
    reason: r.reason,
    session_id: r.sessionId,
    ip: r.ip,
    user_agent: r.userAgent,
    actor_id: r.actorId,
    subject_id: r.subjectId,
    request_id: r.requestId,
  };
}

/**
 * The user's view of a row about them: what happened and from where — but when an administrator
 * acted on the account, the address and user agent are the operator's, and those are not the
 * subject's to see.
 */
export function ownAuditEventView(r: StoredAuditRecord): z.infer<typeof ownAuditEventSchema> {
  const byAdministrator = r.actorId !== null && r.actorId !== r.subjectId;
  const { actor_id: _actor, subject_id: _subject, request_id: _request, ...own } = auditEventView(r);
  return { ...own, ...(byAdministrator ? { ip: null, user_agent: null } : {}), by_administrator: byAdministrator };
}

/** A page of newest-first rows: the cursor for the next page, if this one was full. */
export function nextBefore(rows: readonly StoredAuditRecord[], limit: number): number | null {
  return rows.length === limit ? (rows.at(-1)?.id ?? null) : null;
}
