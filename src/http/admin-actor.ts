import type { FastifyRequest } from 'fastify';
import type { AdminActor } from '../admin/user-admin.js';
import { auditContextOf } from './audit-context.js';

/** The admin behind a request to a protected admin route, with where it came from (audit rows). */
export function adminActorOf(request: FastifyRequest): AdminActor {
  return { userId: request.principal!.subject, context: auditContextOf(request) };
}

/** One log line per admin action: who did what to whom (the audit trail has the durable record). */
export function logAdminAction(request: FastifyRequest, action: string, target: string): void {
  request.log.info({ event: `admin.${action}`, actor_id: request.principal!.subject, target_id: target }, 'admin action');
}
