import type { FastifyPluginAsync } from 'fastify';
import { authorizationHeaders, queryOf } from '../bearer-credential.js';
import type { Principal } from '../principal.js';
import { authenticate, compileChecks, type AdapterOptions, type Checks } from '../requirement.js';
import type { Verifier } from '../verifier.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Checks for this route (see `Checks`), or `'public'`; see `requireDeclaration`. */
    gatehouse?: Checks | 'public';
  }
  interface FastifyRequest {
    /** The verified caller on routes declaring `config.gatehouse`; null elsewhere. Named apart from the Gatehouse server's own `principal`. */
    gatehouse: Principal | null;
  }
}

export interface GatehouseFastifyOptions extends AdapterOptions {
  readonly verifier: Verifier;
  /**
   * Deny by default, as the Gatehouse server does: every route added after the plugin must say
   * `config.gatehouse` (checks, or `'public'`), or adding it throws. Off by default, so the plugin
   * can guard a few routes of an existing app; turn it on for a service that is private by nature.
   */
  readonly requireDeclaration?: boolean;
}

/** A route declared open to anyone (with `requireDeclaration`). */
export const PUBLIC_ROUTE = 'public';

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
    if (checks === undefined && options.requireDeclaration === true) {
      throw new TypeError(`route ${String(route.method)} ${route.url} declares no config.gatehouse (checks, or 'public')`);
    }
    if (checks !== undefined && checks !== PUBLIC_ROUTE) compiled.set(checks, compileChecks(checks));
  });
  app.addHook('onRequest', async (request, reply) => {
    const declared = request.routeOptions.config.gatehouse;
    if (declared === undefined || declared === PUBLIC_ROUTE) return;
    const checks = compiled.get(declared) ?? compileChecks(declared);
    const outcome = await authenticate(
      options.verifier,
      { authorization: authorizationHeaders(request.raw.rawHeaders), query: queryOf(request.url) },
      checks,
      options,
    );
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
