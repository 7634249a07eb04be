import type { FastifyPluginAsyncZod, ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { PUBLIC } from '../../guard/requirement.js';
import { handleRevocationRequest } from '../../oauth/token-revocation.js';
import { auditContextOf } from '../audit-context.js';
import type { GatehouseServices } from '../../services.js';
import { registerStrictFormParser, requireFormBody } from '../body-parsers.js';
import { basicCredentials } from '../client-credentials.js';
import { oauthErrorSchema } from './problem-schema.js';

const formBody = z.looseObject({
  token: z.string().max(8192).optional(),
  token_type_hint: z.string().max(64).optional(),
  client_id: z.string().max(128).optional(),
});

/** RFC 7009 token revocation, advertised as `revocation_endpoint` (RFC 8414). */
export const revokeRoutes: FastifyPluginAsyncZod<{ services: GatehouseServices }> = async (app, { services }) => {
  // Every token this Gatehouse issued may be revoked here, a resource server's (RFC 8707) included.
  const deps = {
    clients: services.clients,
    sessions: services.sessions,
    verifier: services.issuedTokenVerifier,
    revocations: services.revocations,
    now: services.now,
  };
  registerStrictFormParser(app);
  app.withTypeProvider<ZodTypeProvider>().post(
    '/auth/revoke',
    {
      config: { auth: PUBLIC, errorStyle: 'oauth', throttle: 'revoke' },
      schema: {
        tags: ['auth'],
        summary: 'Revoke a refresh or access token (RFC 7009); 200 also for unknown tokens',
        consumes: ['application/x-www-form-urlencoded'],
        body: formBody,
        response: { 200: z.void(), 400: oauthErrorSchema, 401: oauthErrorSchema },
      },
    },
    async (request, reply) => {
      requireFormBody(request.headers['content-type'], 'revocation');
      const outcome = await handleRevocationRequest(
        deps,
        request.body as Record<string, string>,
        basicCredentials(request.raw.rawHeaders),
        auditContextOf(request),
      );
      request.log.info({ event: 'token.revocation', outcome }, 'revocation request');
      return reply.code(200).headers({ 'cache-control': 'no-store', pragma: 'no-cache' }).send();
    },
  );
};
