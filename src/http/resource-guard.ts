import type { FastifyRequest } from 'fastify';
import type { Policy } from '../guard/policy.js';
import type { ResourceRule } from '../guard/requirement.js';

const loaded = new WeakMap<FastifyRequest, unknown>();

/** Called by the guard once the policy has allowed the loaded resource. */
export function rememberResource(request: FastifyRequest, resource: unknown): void {
  loaded.set(request, resource);
}

/** A route's resource rule, typed for the handler that reads the resource back. */
export interface ResourceGuard<R> extends ResourceRule<R> {
  /** The resource the guard loaded and the policy allowed for this request. */
  of(request: FastifyRequest): R;
}

/**
 * Binds a policy to the way a route loads its resource. Put it in the route's requirement
 * (`config: { auth: { scopes: […], resource: orderAccess } }`); the handler then reads
 * `orderAccess.of(request)`, so the resource is loaded once and never used unchecked.
 *
 * @example
 * const orderAccess = guardResource(readOrder, (request) => orders.find((request.params as { id: string }).id));
 */
export function guardResource<R>(policy: Policy<R>, load: (request: FastifyRequest) => Promise<R | undefined>): ResourceGuard<R> {
  return Object.freeze({
    policy,
    load: (request: unknown) => load(request as FastifyRequest),
    of(request: FastifyRequest): R {
      if (!loaded.has(request)) throw new Error(`resource of policy ${policy.name} read on a route that does not declare it`);
      return loaded.get(request) as R;
    },
  });
}
