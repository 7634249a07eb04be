import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import type { FastifyInstance, RouteOptions } from 'fastify';
import { describeRequirement, isPublic, isSecret, schemesOf, type RouteRequirement } from '../guard/requirement.js';
import type { SchemeName } from '../guard/scheme-name.js';

export { describeRequirement };
import { API_KEY_SECURITY_SCHEME, SECRET_SECURITY_SCHEMES, SECURITY_SCHEME, SESSION_SECURITY_SCHEME } from '../http/openapi.js';

/** One route as the app registered it, after the guard resolved its requirement. */
export interface InventoryRoute {
  readonly method: string;
  /** Fastify syntax: `/admin/users/:id`. */
  readonly path: string;
  /** undefined: the route declares none (buildApp refuses such a route; a fake list may not). */
  readonly requirement: RouteRequirement | undefined;
  /** `schema.hide`: left out of the OpenAPI document on purpose. */
  readonly hidden: boolean;
}

export type RouteFlagCode = 'PUBLIC_WRITE' | 'ADMIN_WITHOUT_ADMIN_SCOPE' | 'OPENAPI_MISMATCH' | 'NO_REQUIREMENT';

export interface RouteFlag {
  readonly code: RouteFlagCode;
  readonly detail: string;
  /** Set when the flag is known and accepted: why. An unexpected flag makes `gatehouse routes` exit 1. */
  readonly expected?: string;
}

export interface RouteReport {
  readonly method: string;
  readonly path: string;
  readonly requirement: string;
  readonly public: boolean;
  readonly scopes: readonly string[];
  readonly match: 'all' | 'any';
  readonly roles: readonly string[];
  /** The credential schemes a protected route accepts; empty for public and machine-secret routes. */
  readonly schemes: readonly SchemeName[];
  /** The operation's effective OpenAPI `security`; null when the route is not in the document. */
  readonly openapi: readonly Record<string, readonly string[]>[] | null;
  readonly flags: readonly RouteFlag[];
}

/** The public writes the service exists for: each takes its credential in the body. */
export const EXPECTED_PUBLIC_WRITES: Readonly<Record<string, string>> = {
  'POST /auth/token': 'the OAuth token endpoint (RFC 6749 §3.2): the credential is the grant in the body',
  'POST /auth/login': 'password login: the credential is the password in the body',
  'POST /auth/register': 'self-registration: creates an account without any role; throttled',
  'POST /auth/refresh': 'the credential is the refresh token in the body',
  'POST /auth/revoke': 'RFC 7009 revocation: the token in the body is the credential; the client is identified as at the token endpoint',
  'POST /login': 'the hosted sign-in form: the password in the body, the synchronizer token against login CSRF; throttled like /auth/login',
  'POST /register': 'the hosted registration form: as POST /auth/register, plus the synchronizer token; throttled',
  'POST /logout': 'the hosted sign-out form: ends only the session of the cookie it carries, like DELETE /auth/session; CSRF-checked',
  'POST /auth/session': 'browser sign-in: the credential is the password in the body; throttled like /auth/login; the CSRF layers guard it (login CSRF)',
  'DELETE /auth/session': 'browser sign-out: ends only the session whose cookie (id and secret) it carries; the CSRF layers guard it',
  'POST /auth/password-reset': 'asks for a reset mail: always 202, the mail goes to the confirmed address only; throttled per address and per account',
  'POST /auth/password-reset/complete': 'the credential is the mailed single-use code in the body',
  'POST /auth/email/verification': 'asks for the confirmation mail again: always 202, to the address on file; throttled per address and per account',
  'POST /auth/email/confirm': 'the credential is the mailed single-use code in the body',
  'POST /forgot-password': 'the hosted form of POST /auth/password-reset, plus the synchronizer token; throttled',
  'POST /reset-password': 'the hosted form of POST /auth/password-reset/complete (the mailed code), plus the synchronizer token',
  'POST /confirm-email': 'the hosted form of POST /auth/email/confirm (the mailed code), plus the synchronizer token',
  'POST /auth/passkeys/options': 'a passkey sign-in challenge (single use, 5 minutes); creates nothing else; throttled per address',
  'POST /auth/login/mfa':
    'second step of a password login: the credential is the single-use MFA challenge of the password step plus a code; codes throttled per account',
  'POST /auth/session/mfa':
    'second step of a browser sign-in: the single-use MFA challenge of POST /auth/session plus a code; codes throttled per account; the CSRF layers guard it',
  'POST /login/second-factor':
    'the hosted form of POST /auth/session/mfa: the single-use MFA challenge of POST /login plus a code, plus the synchronizer token; codes throttled per account',
  'POST /auth/passkeys/verify':
    'passkey sign-in: the credential is the signed assertion in the body; throttled like /auth/login; the CSRF layers guard it (login CSRF)',
};

const WRITES = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

interface OpenApiDocument {
  readonly security?: readonly Record<string, readonly string[]>[];
  readonly paths?: Readonly<Record<string, Readonly<Record<string, { readonly security?: readonly Record<string, readonly string[]>[] } | undefined>>>>;
}

/** `/admin/users/:id` → `/admin/users/{id}` (a regex constraint `:id(\\d+)` dropped). */
export function openApiPath(path: string): string {
  return path.replace(/:([A-Za-z0-9_]+)(\([^)]*\))?/g, '{$1}');
}

const sameSet = (a: readonly string[], b: readonly string[]) => a.length === b.length && a.every((x) => b.includes(x));

/**
 * Whether the OpenAPI security states the requirement: public → no requirement object (or an
 * empty one, "anonymous allowed"); scopes all(S) → one object naming exactly S; scopes any(S) →
 * one alternative per scope (OpenAPI's "or"). Roles have no OpenAPI form and are not compared.
 */
function securityMismatch(requirement: RouteRequirement, security: readonly Record<string, readonly string[]>[]): string | undefined {
  const anonymous = security.length === 0 || security.some((s) => Object.keys(s).length === 0);
  if (isPublic(requirement)) return anonymous ? undefined : 'public route, but the OpenAPI document requires a token';
  if (anonymous) return 'protected route, but the OpenAPI document lets it be called without a token';
  if (isSecret(requirement)) {
    const scheme = SECRET_SECURITY_SCHEMES[requirement.secret];
    const ok = security.length === 1 && Object.keys(security[0]!).length === 1 && security[0]![scheme]?.length === 0;
    return ok ? undefined : `needs the ${requirement.secret} secret (${scheme}), but the OpenAPI document says ${JSON.stringify(security)}`;
  }
  const scopes = requirement.scopes ?? [];
  const schemes = schemesOf(requirement);
  // The session cookie is one alternative of its own, with no scopes (an apiKey scheme has none).
  const isSession = (s: Readonly<Record<string, readonly string[]>>) => Object.keys(s).length === 1 && s[SESSION_SECURITY_SCHEME]?.length === 0;
  const sessions = security.filter(isSession).length;
  if (sessions !== (schemes.includes('session') ? 1 : 0)) return `accepts ${schemes.join(' ')}, but the OpenAPI document says ${JSON.stringify(security)}`;
  // The API key likewise: its own alternative, no scopes (the key's scopes are checked at each use).
  const isApiKey = (s: Readonly<Record<string, readonly string[]>>) => Object.keys(s).length === 1 && s[API_KEY_SECURITY_SCHEME]?.length === 0;
  if (security.filter(isApiKey).length !== (schemes.includes('api_key') ? 1 : 0))
    return `accepts ${schemes.join(' ')}, but the OpenAPI document says ${JSON.stringify(security)}`;
  const documented = security.filter((s) => !isSession(s) && !isApiKey(s)).map((s) => s[SECURITY_SCHEME]);
  if (documented.some((d) => d === undefined)) return `the OpenAPI document names a scheme other than ${SECURITY_SCHEME}`;
  if (!schemes.includes('bearer'))
    return documented.length === 0 ? undefined : `accepts no bearer token, but the OpenAPI document says ${JSON.stringify(security)}`;
  const alternatives = documented as readonly (readonly string[])[];
  if (requirement.match === 'any' && scopes.length > 1) {
    const ok =
      alternatives.length === scopes.length &&
      alternatives.every((a) => a.length === 1) &&
      sameSet(
        alternatives.map((a) => a[0]!),
        scopes,
      );
    return ok ? undefined : `needs any of (${scopes.join(' ')}), but the OpenAPI document says ${JSON.stringify(security)}`;
  }
  const ok = alternatives.length === 1 && sameSet(alternatives[0]!, scopes);
  return ok ? undefined : `needs scopes (${scopes.join(' ')}), but the OpenAPI document says ${JSON.stringify(security)}`;
}

/**
 * Flags every route that deserves a second look: public writes (the auth endpoints expected),
 * `/admin` routes a non-admin token could pass, and routes whose OpenAPI security says something
 * else than the guard enforces. Pure: the route list and the document are given.
 */
export function checkRoutes(routes: readonly InventoryRoute[], openapi: OpenApiDocument): RouteReport[] {
  return routes.map((route) => {
    const flags: RouteFlag[] = [];
    const { requirement } = route;
    const key = `${route.method} ${route.path}`;
    if (requirement === undefined) flags.push({ code: 'NO_REQUIREMENT', detail: 'the route declares no requirement (config.auth)' });
    const open = requirement === undefined || isPublic(requirement);
    // A machine secret carries no scopes or roles: an /admin route behind one is still flagged.
    const token = requirement === undefined || isPublic(requirement) || isSecret(requirement) ? undefined : requirement;
    const scopes = [...(token?.scopes ?? [])];
    const match = token?.match === 'any' ? 'any' : 'all';
    const roles = [...(token?.roles ?? [])];

    if (open && WRITES.has(route.method)) {
      const expected = EXPECTED_PUBLIC_WRITES[key];
      flags.push({ code: 'PUBLIC_WRITE', detail: `${route.method} without a token`, ...(expected === undefined ? {} : { expected }) });
    }
    if (route.path === '/admin' || route.path.startsWith('/admin/')) {
      const admin = (s: string) => s.startsWith('admin:');
      // all-of: one admin scope among them suffices; any-of: every alternative must be an admin scope.
      const guarded = scopes.length > 0 && (match === 'all' ? scopes.some(admin) : scopes.every(admin));
      if (!guarded)
        flags.push({ code: 'ADMIN_WITHOUT_ADMIN_SCOPE', detail: `an admin route passable without an admin:* scope (${describeRequirement(requirement)})` });
    }

    let documented: RouteReport['openapi'] = null;
    const operation = route.hidden ? undefined : openapi.paths?.[openApiPath(route.path)]?.[route.method.toLowerCase()];
    if (operation !== undefined) {
      documented = operation.security ?? openapi.security ?? [];
      const mismatch = requirement === undefined ? undefined : securityMismatch(requirement, documented);
      if (mismatch !== undefined) flags.push({ code: 'OPENAPI_MISMATCH', detail: mismatch });
    } else if (!route.hidden && route.method !== 'HEAD' && !open) {
      flags.push({ code: 'OPENAPI_MISMATCH', detail: 'protected route missing from the OpenAPI document (not hidden)' });
    }
    return {
      method: route.method,
      path: route.path,
      requirement: describeRequirement(requirement),
      public: open,
      scopes,
      match,
      roles,
      schemes: token === undefined ? [] : [...schemesOf(token)],
      openapi: documented,
      flags,
    };
  });
}

export const hasUnexpectedFlag = (reports: readonly RouteReport[]): boolean => reports.some((r) => r.flags.some((f) => f.expected === undefined));

/**
 * Builds an app with `build` and returns every route it registered. Fastify announces each new
 * instance on the `fastify.initialization` diagnostics channel (its documented hook for
 * instrumentation), so an `onRoute` hook is in place before the first route, whatever buildApp
 * registers. The requirement is read once the app is ready, after the guard resolved it.
 */
export async function collectRoutes(build: () => Promise<FastifyInstance>): Promise<{ app: FastifyInstance; routes: InventoryRoute[] }> {
  const seen: { method: string; path: string; options: RouteOptions }[] = [];
  let instance: FastifyInstance | undefined;
  const onInit = (message: unknown) => {
    if (instance !== undefined) return;
    instance = (message as { fastify: FastifyInstance }).fastify;
    instance.addHook('onRoute', (options) => {
      // `url` is rewritten in place for prefixed variants; keep what this registration said.
      for (const method of [options.method].flat()) seen.push({ method: method.toUpperCase(), path: options.url, options });
    });
  };
  subscribe('fastify.initialization', onInit);
  let app: FastifyInstance;
  try {
    app = await build();
  } finally {
    unsubscribe('fastify.initialization', onInit);
  }
  if (instance === undefined) throw new Error('fastify.initialization was not published: cannot list the routes');
  const routes = seen.map(({ method, path, options }) => ({ method, path, requirement: options.config?.auth, hidden: options.schema?.hide === true }));
  // Fastify adds a HEAD twin to every GET (for a prefixed `/` route, under the `/x/` variant too);
  // list it only when it differs from its GET.
  const key = (r: InventoryRoute) => `${r.path.length > 1 ? r.path.replace(/\/$/, '') : r.path} ${JSON.stringify(r.requirement)}`;
  const gets = new Set(routes.filter((r) => r.method === 'GET').map(key));
  const unique = new Map<string, InventoryRoute>();
  for (const r of routes) if (!(r.method === 'HEAD' && gets.has(key(r)))) unique.set(`${r.method} ${r.path}`, r);
  return { app, routes: [...unique.values()].sort((a, b) => a.path.localeCompare(b.path) || a.method.localeCompare(b.method)) };
}
