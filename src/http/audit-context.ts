import type { FastifyRequest } from 'fastify';
import type { AuditContext } from '../audit/audit-event.js';

/** Where the request came from, for the audit trail (the IP as seen through trusted proxies). */
export function auditContextOf(request: FastifyRequest): AuditContext {
  const userAgent = request.headers['user-agent'];
  return { ip: request.ip, userAgent: typeof userAgent === 'string' ? userAgent : null, requestId: request.id };
}
