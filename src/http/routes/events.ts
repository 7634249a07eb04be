import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { GatehouseServices } from '../../services.js';
import { problemSchema } from './problem-schema.js';

const eventView = z.object({
  id: z.number().int(),
  occurred_at: z.iso.datetime(),
  event: z.string(),
  outcome: z.string(),
  reason: z.string().nullable(),
  session_id: z.string().nullable(),
  ip: z.string().nullable(),
  user_agent: z.string().nullable(),
});

const query = z
  .object({
    limit: z.coerce.number().int().min(1).max(100).default(50),
    /** Keyset cursor: the `id` of the last event of the previous page. */
    before: z.coerce.number().int().positive().optional(),
  })
  .strict();

export const eventRoutes: FastifyPluginAsyncZod<{ services: GatehouseServices }> = async (app, { services }) => {
  app.get(
    '/me/events',
    {
      config: { auth: { scopes: ['profile'] } },
      schema: {
        tags: ['me'],
        summary: 'Your recent security events (logins, failed logins, logouts, password changes…), newest first',
        querystring: query,
        response: { 200: z.object({ events: z.array(eventView), next_before: z.number().int().nullable() }), 400: problemSchema, 401: problemSchema, 403: problemSchema },
      },
    },
    async (request, reply) => {
      const { limit, before } = request.query;
      const rows = await services.audit.list({ subjectId: request.principal!.userId, limit, ...(before === undefined ? {} : { beforeId: before }) });
      reply.header('cache-control', 'no-store');
      return {
        events: rows.map((r) => ({
          id: r.id,
          occurred_at: r.occurredAt.toISOString(),
          event: r.event,
          outcome: r.outcome,
          reason: r.reason,
          session_id: r.sessionId,
          ip: r.ip,
          user_agent: r.userAgent,
        })),
        next_before: rows.length === limit ? (rows.at(-1)?.id ?? null) : null,
      };
    },
  );
};
