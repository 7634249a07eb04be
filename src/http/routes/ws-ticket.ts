import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { auditRecord } from '../../audit/audit-event.js';
import { ForbiddenError } from '../../errors/errors.js';
import { auditContextOf } from '../audit-context.js';
import { trustedOrigins } from '../../guard/trusted-origins.js';
import type { GatehouseServices } from '../../services.js';
import { requestFactsOf } from '../request-facts.js';
import { problemSchema } from './problem-schema.js';

const ticketSchema = z.object({
  ticket: z.string().describe('ghw_…: opens one WebSocket, once, from the Origin that asked for it, as `?ticket=` on the upgrade.'),
  expires_in: z.number().int().describe('Seconds the ticket stays valid: 30, or less when the token or the session ends sooner.'),
});

/**
 * `POST /auth/ws-ticket`: a browser's WebSocket cannot send an Authorization header, so it asks
 * here, with its token or its cookie session, for a single-use ticket bound to its Origin
 * (src/sockets/ws-tickets.ts). Any scope will do: the socket route states its own requirement.
 */
export const wsTicketRoutes: FastifyPluginAsyncZod<{ services: GatehouseServices }> = async (app, { services }) => {
  const trusted = trustedOrigins(services.config);

  app.post(
    '/auth/ws-ticket',
    {
      // The cookie session gets the CSRF layers from the guard, like every cookie-carrying write.
      config: { auth: { schemes: ['bearer', 'session'] }, throttle: 'ws_ticket' },
      schema: {
        tags: ['auth'],
        summary: 'A single-use WebSocket ticket (30 s), bound to the caller and to the Origin asking',
        description:
          'Needs an `Origin` header naming a trusted origin (the issuer, or GATEHOUSE_ALLOWED_ORIGINS): the ticket opens a socket from that origin only.',
        response: { 200: ticketSchema, 401: problemSchema, 403: problemSchema, 429: problemSchema },
      },
    },
    async (request, reply) => {
      const principal = request.principal!;
      // The guard accepts bearer and session only here; the type cannot know it.
      if (principal.via === 'ticket' || principal.via === 'api_key') throw new ForbiddenError(`a ${principal.via} principal cannot get a ticket`);
      const origins = requestFactsOf(request).header('origin');
      if (origins.length !== 1) throw new ForbiddenError(`ws-ticket asked with ${origins.length} Origin headers`);
      if (!trusted.has(origins[0]!)) throw new ForbiddenError(`ws-ticket asked from an untrusted origin (${origins[0]!.slice(0, 100)})`);
      const { ticket, expiresIn } = await services.wsTickets.issue(principal, origins[0]!);
      // Who opened a socket door and from which session; never the ticket, which opens it.
      const record = auditRecord(
        auditContextOf(request),
        { event: 'ws_ticket.issued', outcome: 'success', actorId: principal.subject, subjectId: principal.subject, sessionId: principal.sessionId ?? null },
        new Date(services.now()),
      );
      await services.audit.record(record);
      return reply.headers({ 'cache-control': 'no-store', pragma: 'no-cache' }).send({ ticket, expires_in: expiresIn });
    },
  );
};
