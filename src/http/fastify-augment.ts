import type { RouteRequirement } from '../guard/requirement.js';
import type { Principal } from '../guard/principal.js';
import type { Authenticator } from '../guard/authenticator.js';

/** How a route's errors are written: OAuth endpoints speak RFC 6749, hosted pages HTML, everything else RFC 9457. */
export type ErrorStyle = 'oauth' | 'problem' | 'page';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Required on every route: what a caller must present. See src/guard/requirement.ts. */
    auth?: RouteRequirement;
    errorStyle?: ErrorStyle;
  }
  interface FastifyRequest {
    /** Set by the guard on protected routes; `null` on public ones. */
    principal: Principal | null;
  }
  interface FastifyInstance {
    /** Declared by a scope (such as the docs) whose routes are public by design. */
    gatehouseScopeRequirement?: RouteRequirement;
    /**
     * Declared by the scope of Gatehouse's own endpoints: they accept Gatehouse's own audience
     * only, whatever audience a library host's routes accept (RFC 8707).
     */
    gatehouseAuthenticator?: Authenticator;
  }
}
