import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { AuditRecord } from '../../audit/audit-event.js';
import { auditContextOf } from '../audit-context.js';
import type { GatehouseServices } from '../../services.js';
import { changePassword, type PasswordChangeDeps } from '../../users/password-change.js';
import { problemSchema } from './problem-schema.js';

const body = z.object({ current_password: z.string().max(4096), new_password: z.string().max(4096) }).strict();

/** What a password change needs from the services: the API route and the account page use the same. */
export function passwordChangeDeps(services: GatehouseServices): PasswordChangeDeps {
  return {
    users: services.users,
    hasher: services.hasher,
    revocations: services.revocations,
    recordAudit: (record: AuditRecord) => services.audit.record(record),
    passwordMinLength: services.config.passwordMinLength,
    now: services.now,
  };
}

export const passwordRoutes: FastifyPluginAsyncZod<{ services: GatehouseServices }> = async (app, { services }) => {
  const deps = passwordChangeDeps(services);

  app.post(
    '/me/password',
    {
      config: { auth: { schemes: ['bearer', 'session'], scopes: ['profile'] }, throttle: 'password_change' },
      schema: {
        tags: ['me'],
        summary: 'Change your password; every other session is signed out, this one stays',
        body,
        response: { 204: z.void(), 400: problemSchema, 401: problemSchema, 403: problemSchema, 409: problemSchema },
      },
    },
    async (request, reply) => {
      const principal = request.principal!;
      const revoked = await changePassword(
        deps,
        principal,
        { currentPassword: request.body.current_password, newPassword: request.body.new_password },
        auditContextOf(request),
      );
      request.log.info({ event: 'user.password_changed', user_id: principal.subject, sessions_revoked: revoked }, 'password changed');
      return reply.code(204).send();
    },
  );
};
