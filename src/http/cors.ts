import fastifyCors, { type FastifyCorsOptions } from '@fastify/cors';
import type { FastifyInstance, onRouteHookHandler } from 'fastify';
import { PUBLIC } from '../guard/requirement.js';

/** What a cross-origin caller may send: a bearer token, a JSON body, its own request id. */
const ALLOWED_HEADERS = ['Authorization', 'Content-Type', 'X-Request-Id'];
const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'];
// What a client script needs to read from an answer beyond the CORS-safelisted headers.
const EXPOSED_HEADERS = ['WWW-Authenticate', 'Retry-After', 'X-Request-Id'];

/**
 * @fastify/cors options for an exact allow-list: a listed origin gets
 * `Access-Control-Allow-Origin: <that origin>` and `Access-Control-Allow-Credentials: true`; any
 * other origin (or none) gets no CORS header at all, never credentials. `Vary: Origin` always, so
 * a cache never hands one origin's answer to another.
 */
export function corsOptions(origins: readonly string[]): FastifyCorsOptions {
  const listed = new Set(origins);
  return {
    // Exact comparison with the Origin header as sent: no pattern, no normalization to fool.
    origin: (origin, callback) => callback(null, origin !== undefined && listed.has(origin) ? origin : false),
    credentials: true,
    methods: METHODS,
    allowedHeaders: ALLOWED_HEADERS,
    exposedHeaders: EXPOSED_HEADERS,
    // A listed origin's OPTIONS without Access-Control-Request-Method would get a text/plain 400
    // outside the error layer; it is answered like a preflight instead (it grants nothing more).
    strictPreflight: false,
  };
}

export interface GatehouseCors {
  /**
   * An onRoute hook that declares the plugin's preflight route (`OPTIONS *`) PUBLIC: a browser sends
   * no credential on a preflight. Add it before the guard plugin, whose onRoute hook refuses a route
   * that declares nothing (the plugin offers no way to pass the route's config).
   */
  readonly declarePreflight: onRouteHookHandler;
  /** Registers @fastify/cors on `app`; after the guard, so its route is resolved like any other. */
  register(app: FastifyInstance): Promise<void>;
}

/**
 * CORS for GATEHOUSE_CORS_ORIGINS; undefined when the list is empty: no CORS at all, no preflight
 * route. CORS only lets listed origins read answers: it is no CSRF defence (see guard/csrf-layers.ts).
 */
export function corsFor(origins: readonly string[]): GatehouseCors | undefined {
  if (origins.length === 0) return undefined;
  // Only the route added while the plugin registers is declared: no other OPTIONS route becomes public.
  let registering = false;
  return {
    declarePreflight(route) {
      if (registering && route.method === 'OPTIONS' && route.url.endsWith('*')) route.config = { ...route.config, auth: PUBLIC };
    },
    async register(app) {
      registering = true;
      try {
        await app.register(fastifyCors, corsOptions(origins));
      } finally {
        registering = false;
      }
    },
  };
}
