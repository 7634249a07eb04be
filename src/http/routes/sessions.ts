import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { auditContextOf } from '../audit-context.js';
import type { GatehouseServices } from '../../services.js';
import { listDeviceSessions, revokeDeviceSession } from '../../sessions/device-sessions.js';
import { problemSchema } from './problem-schema.js';

const sessionView = z.object({
  id: z.uuid(),
  created_at: z.iso.datetime(),
  last_used_at: z.iso.datetime(),
  device: z.string(),
  current: z.boolean(),
});

export const sessionRoutes: FastifyPluginAsyncZod<{ services: GatehouseServices }> = async (app, { services }) => {
  const deps = { sessions: services.sessions, revocations: services.revocations, now: services.now };

  app.get(
    '/me/sessions',
    {
      config: { auth: { schemes: ['bearer', 'session'], scopes: ['profile'] } },
      schema: {
        tags: ['me'],
        summary: 'Your active sessions (one per login), newest first',
        response: { 200: z.array(sessionView), 401: problemSchema, 403: problemSchema },
      },
    },
    async (request, reply) => {
      const sessions = await listDeviceSessions(deps, request.principal!);
      reply.header('cache-control', 'no-store');
      return sessions.map((s) => ({
        id: s.id,
        created_at: s.createdAt.toISOString(),
        last_used_at: s.lastUsedAt.toISOString(),
        device: s.device,
        current: s.current,
      }));
    },
  );

  app.delete(
    '/me/sessions/:id',
    {
      config: { auth: { schemes: ['bearer', 'session'], scopes: ['profile'] } },
      schema: {
        tags: ['me'],
        summary: 'Sign out one of your sessions (its refresh and access tokens stop working)',
        params: z.object({ id: z.string().max(64) }),
        response: { 204: z.void(), 401: problemSchema, 403: problemSchema, 404: problemSchema },
      },
    },
    async (request, reply) => {
      const principal = request.principal!;
      await revokeDeviceSession(deps, principal, request.params.id, auditContextOf(request));
      request.log.info({ event: 'session.device_revoked', user_id: principal.subject, session_id: request.params.id }, 'session revoked');
      return reply.code(204).send();
    },
  );
};
