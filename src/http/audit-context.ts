import type { FastifyRequest } from 'fastify';
import type { AuditContext } from '../audit/audit-event.js';
import { deviceLabel } from '../sessions/device-label.js';

/** Where the request came from, for the audit trail (the IP as seen through trusted proxies). */
export function auditContextOf(request: FastifyRequest): AuditContext {
  const userAgent = request.headers['user-agent'];
  return { ip: request.ip, userAgent: typeof userAgent === 'string' ? userAgent : null, requestId: request.id };
}

/** What a sign-in records of the request: the device label of its session, the address, the audit context. */
export function signInContextOf(request: FastifyRequest): { readonly device: string; readonly ip: string; readonly audit: AuditContext } {
  return { device: deviceLabel(request.headers['user-agent']), ip: request.ip, audit: auditContextOf(request) };
}
