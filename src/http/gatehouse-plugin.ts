import type { FastifyInstance, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { loadConfig, type Config } from '../config/config.js';
import { MissingCredentialError } from '../errors/errors.js';
import type { Principal } from '../guard/principal.js';
import { createServices, type GatehouseServices, type ServiceOverrides } from '../services.js';
import { mountGatehouse } from './app.js';
import { createGatehouseApi, type GatehouseApi } from './gatehouse-api.js';
import { rememberServices } from './mounted-services.js';
import './fastify-augment.js';

export interface GatehouseOptions extends Omit<ServiceOverrides, 'now'> {
  /** Where Gatehouse's endpoints go: `/auth/token` becomes `<prefix>/auth/token`. Default none. */
  readonly prefix?: string;
  /**
   * The configuration; by default read from `process.env` like the standalone server. Set
   * GATEHOUSE_ISSUER to the URL Gatehouse is reached at, prefix included.
   */
  readonly config?: Config;
  /** Services built already (tests, or an app sharing them); the plugin then does not close them. */
  readonly services?: GatehouseServices;
  /** Swagger UI at /docs and `<prefix>/openapi.json`. Off by default: the host owns its docs. */
  readonly docs?: boolean;
  /**
   * RFC 8707: the audience(s) the host's own routes accept, usually the identifier of the host's
   * resource (registered in `resources`). Gatehouse's own endpoints keep accepting GATEHOUSE_AUDIENCE
   * only. Default: GATEHOUSE_AUDIENCE, as Gatehouse's endpoints.
   */
  readonly audience?: string | readonly string[];
}

declare module 'fastify' {
  interface FastifyInstance {
    /** What the host's own code may do with the mounted Gatehouse (see {@link GatehouseApi}). */
    gatehouse: GatehouseApi;
  }
}

/**
 * Gatehouse inside an existing Fastify app:
 *
 *   await app.register(gatehouse, { prefix: '/identity', scopes: { 'orders:read': { description: '…', tenantRoles: ['clerk'] } } });
 *   app.get('/orders/:id', { config: { auth: { scopes: ['orders:read'], resource: orderAccess } } }, handler);
 *
 * It mounts the endpoints under `prefix` and guards every route of the app registered after it:
 * a route without `config.auth` makes startup fail, exactly as in the standalone server. The
 * principal is on `request.principal` (see {@link principalOf}). Error shapes, strict body parsers
 * and security headers apply to Gatehouse's own endpoints; the host's routes keep the host's.
 * Server options stay the host's: spread `gatehouseServerOptions` into `Fastify({...})` so the
 * router's and the HTTP parser's own answers never echo the URL.
 */
export const gatehouse = fp<GatehouseOptions>(
  async (app: FastifyInstance, options) => {
    const { prefix = '', config, services: given, docs = false, audience, ...overrides } = options;
    const services = given ?? (await createServices(config ?? loadConfig(process.env), overrides));
    let hostAuthenticator;
    try {
      hostAuthenticator = audience === undefined ? undefined : services.authenticatorFor(typeof audience === 'string' ? [audience] : audience);
    } catch (error) {
      if (given === undefined) await services.close();
      throw error;
    }
    if (given === undefined) app.addHook('onClose', async () => services.close());
    rememberServices(app, services);
    app.decorate('gatehouse', createGatehouseApi(services, hostAuthenticator ?? services.authenticator));
    await mountGatehouse(app, services, { prefix, docs, plumbing: 'scoped', ...(hostAuthenticator === undefined ? {} : { hostAuthenticator }) });
  },
  { name: 'gatehouse', fastify: '5.x' },
);

/**
 * The principal of a protected route, typed as present. Throws (a 401 through the guard's error
 * shape) if called on a public route, where there is none.
 */
export function principalOf(request: FastifyRequest): Principal {
  if (request.principal === null) throw new MissingCredentialError();
  return request.principal;
}
