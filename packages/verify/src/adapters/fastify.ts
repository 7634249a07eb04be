import type { FastifyPluginAsync } from 'fastify';
import type { Principal } from '../principal.js';
import { authenticate, compileChecks, type AdapterOptions, type Checks } from '../requirement.js';
import type { Verifier } from '../verifier.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Checks for this route (see `Checks`); routes without it are left alone. */
    gatehouse?: Checks;
  }
  interface FastifyRequest {
    /** The verified caller on routes declaring `config.gatehouse`; null elsewhere. Named apart from the Gatehouse server's own `principal`. */
    gatehouse: Principal | null;
  }
}

export interface GatehouseFastifyOptions extends AdapterOptions {
  readonly verifier: Verifier;
}

/**
 * Fastify plugin: a route that declares `config: { gatehouse: { scopes: ['inventory:read'] } }`
 * is authenticated in onRequest (before body parsing) and sees `request.gatehouse`.
 *
 * @example
 * await app.register(gatehouseFastify, { verifier });
 * app.get('/items', { config: { gatehouse: { scopes: ['inventory:read'] } } }, (request) => list(request.gatehouse!.subject));
 */
export const gatehouseFastify: FastifyPluginAsync<GatehouseFastifyOptions> = async (app, options) => {
  const compiled = new WeakMap<Checks, Checks>();
  app.decorateRequest('gatehouse', null);
  app.addHook('onRoute', (route) => {
    const checks = route.config?.gatehouse;
    if (checks !== undefined) compiled.set(checks, compileChecks(checks));
  });
  app.addHook('onRequest', async (request, reply) => {
    const declared = request.routeOptions.config.gatehouse;
    if (declared === undefined) return;
    const checks = compiled.get(declared) ?? compileChecks(declared);
    const outcome = await authenticate(options.verifier, request.headers.authorization, checks, options);
    if (outcome.ok) {
      request.gatehouse = outcome.principal;
      return;
    }
    request.log.info({ reason: outcome.logReason, status: outcome.status }, 'gatehouse: request refused');
    await reply.code(outcome.status).headers(outcome.headers).type('application/problem+json').send(outcome.body);
  });
};

// What fastify-plugin does: the hooks and decorator apply to the registering scope, not a child.
Object.assign(gatehouseFastify, { [Symbol.for('skip-override')]: true, [Symbol.for('fastify.display-name')]: '@gatehouse/verify' });
