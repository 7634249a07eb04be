import type { FastifyInstance } from 'fastify';
import type { GatehouseServices } from '../services.js';

/**
 * The services behind the Gatehouse a host app mounted, for Gatehouse's own tests and tools, which
 * import this module by path. Hosts cannot: the package's `exports` lists no such entry, and
 * `app.gatehouse` is the narrow {@link import('./gatehouse-api.js').GatehouseApi}.
 */
const mounted = new WeakMap<FastifyInstance, GatehouseServices>();

export function rememberServices(app: FastifyInstance, services: GatehouseServices): void {
  mounted.set(app, services);
}

export function servicesOf(app: FastifyInstance): GatehouseServices {
  const services = mounted.get(app);
  if (services === undefined) throw new TypeError('no Gatehouse is mounted on this app');
  return services;
}
