import type { MiddlewareHandler } from 'hono';
import type { Principal } from '../principal.js';
import { authenticate, compileChecks, type AdapterOptions, type Checks } from '../requirement.js';
import type { Verifier } from '../verifier.js';

/** Hono environment of routes behind the middleware: `c.get('gatehouse')` is the principal. */
export interface GatehouseEnv {
  Variables: { gatehouse: Principal };
}

/**
 * Hono middleware: verifies the bearer token, applies the checks, sets `c.get('gatehouse')`.
 *
 * @example
 * const app = new Hono<GatehouseEnv>();
 * app.get('/items', gatehouse(verifier, { scopes: ['inventory:read'] }), (c) => c.json(list(c.get('gatehouse').subject)));
 */
export function gatehouse(verifier: Verifier, checks: Checks = {}, options: AdapterOptions = {}): MiddlewareHandler<GatehouseEnv> {
  const compiled = compileChecks(checks);
  return async (c, next) => {
    const outcome = await authenticate(verifier, c.req.header('authorization'), compiled, options);
    if (!outcome.ok) {
      return c.body(JSON.stringify(outcome.body), outcome.status, { ...outcome.headers, 'content-type': 'application/problem+json' });
    }
    c.set('gatehouse', outcome.principal);
    await next();
    return undefined;
  };
}
