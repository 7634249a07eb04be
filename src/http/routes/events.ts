import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { GatehouseServices } from '../../services.js';
import { nextBefore, ownAuditEventSchema, ownAuditEventView } from './audit-view.js';
import { problemSchema } from './problem-schema.js';

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
      config: { auth: { schemes: ['bearer', 'session'], scopes: ['profile'] } },
      schema: {
        tags: ['me'],
        summary: 'Your recent security events (logins, failed logins, logouts, password changes…), newest first',
        querystring: query,
        response: {
          200: z.object({ events: z.array(ownAuditEventSchema), next_before: z.number().int().nullable() }),
          400: problemSchema,
          401: problemSchema,
          403: problemSchema,
        },
      },
    },
    async (request, reply) => {
      const { limit, before } = request.query;
      const rows = await services.audit.list({ subjectId: request.principal!.subject, limit, ...(before === undefined ? {} : { beforeId: before }) });
      reply.header('cache-control', 'no-store');
      return {
        events: rows.map(ownAuditEventView),
        next_before: nextBefore(rows, limit),
      };
    },
  );
};
