import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import type { GatehouseMetrics, LoginOutcome } from '../observability/metrics.js';

export interface MetricsPluginOptions {
  readonly metrics: GatehouseMetrics;
}

/** The answer as a login or refresh outcome; the status is all a hook sees of it. */
function outcomeOf(status: number): LoginOutcome {
  if (status < 300) return 'success';
  if (status === 429) return 'throttled';
  if (status >= 500) return 'error';
  return 'invalid_grant';
}

/** Which grant a request to a token- or session-issuing route asked for, if it is one. */
function grantOf(method: string, route: string | undefined, body: unknown): 'password' | 'refresh_token' | undefined {
  if (route === '/auth/login') return 'password';
  // Browser sign-ins: the JSON/form endpoint and the hosted sign-in page.
  if (method === 'POST' && (route === '/auth/session' || route === '/login')) return 'password';
  if (route === '/auth/refresh') return 'refresh_token';
  if (route !== '/auth/token' || typeof body !== 'object' || body === null) return undefined;
  const grant = (body as { grant_type?: unknown }).grant_type;
  return grant === 'password' || grant === 'refresh_token' ? grant : undefined;
}

/**
 * Records every answered request: latency by route pattern (never the URL: `/me/sessions/:id`,
 * `unmatched` when no route matched), 429s, and login and refresh outcomes derived from route and
 * status. Registered before the routes, app-wide. It exposes nothing: `/metrics` is served by the
 * separate metrics server only (`metrics-server.ts`).
 */
export const metricsPlugin = fp<MetricsPluginOptions>(
  async (app: FastifyInstance, { metrics }) => {
    app.addHook('onResponse', (request: FastifyRequest, reply: FastifyReply, done: () => void) => {
      const route = request.is404 ? undefined : request.routeOptions.url;
      const status = reply.statusCode;
      metrics.httpRequest(request.method, route, status, reply.elapsedTime / 1000);
      if (status === 429) metrics.throttled(route);
      const grant = grantOf(request.method, route, request.body);
      // The sign-in page answers a success with its redirect to return_to.
      if (grant === 'password') metrics.login(route === '/login' && status === 303 ? 'success' : outcomeOf(status));
      else if (grant === 'refresh_token') metrics.refresh(outcomeOf(status));
      done();
    });
  },
  { name: 'gatehouse-metrics', fastify: '5.x' },
);
