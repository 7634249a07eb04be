import type { MiddlewareHandler } from 'hono';
import { queryOf } from '../bearer-credential.js';
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
    // The Fetch API joins repeated headers with ", ", which the reader then refuses as malformed.
    const header = c.req.header('authorization');
    const source = { authorization: header === undefined ? [] : [header], query: queryOf(c.req.url) };
    const outcome = await authenticate(verifier, source, compiled, options);
    if (!outcome.ok) {
      return c.body(JSON.stringify(outcome.body), outcome.status, { ...outcome.headers, 'content-type': 'application/problem+json' });
    }
    c.set('gatehouse', outcome.principal);
    await next();
    return undefined;
  };
}
