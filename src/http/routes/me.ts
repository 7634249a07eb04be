import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { GatehouseServices } from '../../services.js';
import { problemSchema } from './problem-schema.js';
import { userView, userViewSchema } from './user-view.js';

const meSchema = userViewSchema.extend({ roles: z.array(z.string()) });

export const meRoutes: FastifyPluginAsyncZod<{ services: GatehouseServices }> = async (app) => {
  app.get(
    '/me',
    {
      config: { auth: { schemes: ['bearer', 'api_key', 'session'], scopes: ['profile'] } },
      schema: { tags: ['me'], summary: 'The current user', response: { 200: meSchema, 401: problemSchema, 403: problemSchema } },
    },
    async (request) => {
      // The guard ran: a principal is present on every protected route.
      const principal = request.principal!;
      return { ...userView(principal.user), roles: [...principal.roles] };
    },
  );
};
