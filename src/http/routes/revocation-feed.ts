import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { MAX_PAGE } from '../../revocation/revocation-pages.js';
import type { GatehouseServices } from '../../services.js';
import { problemSchema } from './problem-schema.js';

const entrySchema = z.union([
  z.object({ kind: z.enum(['token', 'session', 'key']), id: z.string(), until: z.number().int() }),
  z.object({ kind: z.literal('user'), id: z.string(), version: z.number().int(), until: z.number().int() }),
]);

/**
 * `GET /revocations`: the live revocation state for resource servers (`@gatehouse/verify`
 * catch-up), after any gap in their pub/sub feed. It names users, sessions and token ids, so it is
 * not public. There are no machine credentials yet, and a user's access token is the wrong thing:
 * it expires every 15 minutes, needs a refresh loop in every resource server, and dies with a
 * logout of that user. So the credential is a configured secret (GATEHOUSE_REVOCATION_FEED_SECRETS,
 * a list for rotation) as `Authorization: Bearer`; without one configured the route answers 404.
 */
export const revocationFeedRoutes: FastifyPluginAsyncZod<{ services: GatehouseServices }> = async (app, { services }) => {
  app.get(
    '/revocations',
    {
      config: { auth: { secret: 'revocation-feed' } },
      schema: {
        tags: ['revocation'],
        summary: 'The live revocation state, in pages (resource servers catching up after a feed gap)',
        description:
          'Every revocation that can still match an unexpired access token: per token (jti), per session (sid), per user below a token version, and revoked signing keys (kid). `until` is epoch ms after which an entry matches nothing. Follow `next` (as `after`) until it is null. Read it after subscribing to the pub/sub feed, so nothing committed meanwhile is missed.',
        querystring: z
          .object({
            after: z.string().min(3).max(200).optional(),
            limit: z.coerce.number().int().min(1).max(MAX_PAGE).default(MAX_PAGE),
          })
          .strict(),
        response: {
          200: z.object({ entries: z.array(entrySchema), next: z.string().nullable() }),
          400: problemSchema,
          401: problemSchema,
          404: problemSchema,
          503: problemSchema,
        },
      },
    },
    async (request, reply) => {
      const page = await services.revocationPages.page(request.query.after, request.query.limit);
      return reply.header('cache-control', 'no-store').send({ entries: [...page.entries], next: page.next ?? null });
    },
  );
};
