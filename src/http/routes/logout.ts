import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { ForbiddenError } from '../../errors/errors.js';
import { AUTHENTICATED } from '../../guard/requirement.js';
import { auditContextOf } from '../audit-context.js';
import type { GatehouseServices } from '../../services.js';
import { logout, logoutEverywhere } from '../../sessions/logout.js';
import { problemSchema } from './problem-schema.js';
import { clearRefreshCookie } from '../../sessions/refresh-cookie.js';

// Any valid access token may end its own session: logging out must never need a scope.
export const logoutRoutes: FastifyPluginAsyncZod<{ services: GatehouseServices }> = async (app, { services }) => {
  const deps = { revocations: services.revocations, now: services.now };
  // The session is over: a cookie-mode client's refresh cookie goes with it (the token is spent anyway).
  const clearCookieOf = (clientId: string): Record<string, string> =>
    services.clients.find(clientId)?.refreshTokenCookie === true ? { 'set-cookie': clearRefreshCookie(services.config.issuer) } : {};

  app.post(
    '/auth/logout',
    {
      config: { auth: AUTHENTICATED },
      schema: {
        tags: ['auth'],
        summary: 'End this session: its refresh tokens and access tokens stop working at once',
        response: { 204: z.void(), 401: problemSchema },
      },
    },
    async (request, reply) => {
      const principal = request.principal!;
      // Bearer only (AUTHENTICATED): a socket's ticket principal or an API key cannot reach this; the type needs telling.
      if (principal.via === 'ticket' || principal.via === 'api_key') throw new ForbiddenError(`a ${principal.via} principal has no session to log out`);
      await logout(deps, principal, auditContextOf(request));
      request.log.info({ event: 'session.logout', user_id: principal.subject, session_id: principal.sessionId }, 'logged out');
      return reply.code(204).header('cache-control', 'no-store').headers(clearCookieOf(principal.clientId)).send();
    },
  );

  app.post(
    '/auth/logout-all',
    {
      config: { auth: AUTHENTICATED },
      schema: {
        tags: ['auth'],
        summary: 'Log out everywhere: every session of the user ends, every access token dies',
        response: { 204: z.void(), 401: problemSchema },
      },
    },
    async (request, reply) => {
      const principal = request.principal!;
      const sessions = await logoutEverywhere(deps, principal, auditContextOf(request));
      request.log.info({ event: 'session.logout_all', user_id: principal.subject, sessions_revoked: sessions }, 'logged out everywhere');
      return reply.code(204).header('cache-control', 'no-store').headers(clearCookieOf(principal.clientId)).send();
    },
  );
};
