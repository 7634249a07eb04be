import type {
  FastifyInstance,
  FastifyRequest,
  FastifySchema,
  onRequestAsyncHookHandler,
  onRequestHookHandler,
  preHandlerAsyncHookHandler,
  RouteOptions,
} from 'fastify';
import fp from 'fastify-plugin';
import { GatehouseError, InvalidTokenError, MalformedCredentialError, MissingCredentialError, NotFoundError, StepUpRequiredError } from '../errors/errors.js';
import type { Authenticator } from '../guard/authenticator.js';
import { extractBearerCredential } from '../guard/bearer-credential.js';
import { bearerScheme } from '../guard/bearer-scheme.js';
import type { CredentialScheme, RequestFacts, SchemeRegistry } from '../guard/credential-scheme.js';
import type { Principal } from '../guard/principal.js';
import { SCHEME_NAMES } from '../guard/scheme-name.js';
import { factorChangeRequirement, type SecondFactorPresence } from '../guard/factor-change.js';
import { refreshPrincipal, type FreshPrincipalDeps } from '../guard/fresh-principal.js';
import { enforcePolicy } from '../guard/policy.js';
import {
  authorize,
  describeRequirement,
  isPublic,
  isSecret,
  isValidRequirement,
  schemesOf,
  type ProtectedRequirement,
  type ResourceRule,
  type RouteRequirement,
  type SecretRequirement,
  type SecretScheme,
} from '../guard/requirement.js';
import type { SharedSecretCheck } from '../guard/shared-secret.js';
import { rememberResource } from './resource-guard.js';
import { requestFactsOf } from './request-facts.js';
import { sendError } from './error-handler.js';
import { API_KEY_SECURITY_SCHEME, SECRET_SECURITY_SCHEMES, SECURITY_SCHEME, SESSION_SECURITY_SCHEME } from './openapi.js';

export interface GuardPluginOptions {
  readonly authenticator: Authenticator;
  /** For routes declaring `fresh: true`: the database as it is now, past every cache. */
  readonly fresh: FreshPrincipalDeps;
  /** The check of each machine secret; undefined: none configured, its routes answer 404. */
  readonly secrets: Readonly<Record<SecretScheme, SharedSecretCheck | undefined>>;
  /** The schemes besides bearer (which comes from `authenticator`); a route may accept only these. */
  readonly schemes?: Omit<SchemeRegistry, 'bearer'>;
  /**
   * Run after an ambient credential (a cookie) authenticated a request: the cross-site request
   * checks. `jsonEndpoint`: the route reads a JSON body. Throws to refuse. Without it, no route
   * may accept an ambient scheme (startup fails): a cookie without CSRF checks is never wired.
   */
  readonly ambientCheck?: (request: RequestFacts, jsonEndpoint: boolean) => void;
  /** The clock step-up requirements (`authentication.maxAge`) are decided with; default `Date.now`. */
  readonly now?: () => number;
  /** For routes declaring `factorChange: true` (startup fails without it when one does). */
  readonly secondFactors?: SecondFactorPresence;
}

export class UndeclaredRouteError extends Error {
  constructor(method: string | string[], url: string) {
    super(`route ${String(method)} ${url} declares no auth requirement: set config.auth (use PUBLIC for a public route)`);
    this.name = 'UndeclaredRouteError';
  }
}

function queryOf(request: FastifyRequest): string {
  const i = request.url.indexOf('?');
  return i === -1 ? '' : request.url.slice(i + 1);
}

/** The schemes a route accepts, in the guard's order (`SCHEME_NAMES`: Authorization before cookies). */
function acceptedSchemes(requirement: ProtectedRequirement, registry: SchemeRegistry, route: string): readonly CredentialScheme[] {
  const named = schemesOf(requirement);
  return SCHEME_NAMES.filter((name) => named.includes(name)).map((name) => {
    const scheme = registry[name];
    if (scheme === undefined) throw new TypeError(`route ${route} accepts the ${name} scheme, which this app does not provide`);
    return scheme;
  });
}

/**
 * Step 1–2 of the guard: the first scheme whose credential is present authenticates, and no other
 * is consulted. An explicit `Authorization` header wins: with one present, an ambient credential
 * (the cookie) is ignored even if the header is not one this route accepts.
 */
async function authenticateWith(
  schemes: readonly CredentialScheme[],
  facts: RequestFacts,
): Promise<{ principal: Principal; scheme: CredentialScheme; credential: unknown }> {
  for (const scheme of schemes) {
    if (scheme.ambient && facts.header('authorization').length > 0) continue;
    const credential = scheme.read(facts);
    if (credential === undefined) continue;
    if (!scheme.ambient) return { principal: await scheme.authenticate(credential, facts), scheme, credential };
    try {
      return { principal: await scheme.authenticate(credential, facts), scheme, credential };
    } catch (error) {
      // A browser sends a dead cookie without knowing it: the answer is the one for no credential
      // at all, so it reveals nothing about the session (ended, expired, forged); the log says which.
      if (error instanceof InvalidTokenError) throw new MissingCredentialError(`${scheme.name}: ${error.logReason ?? error.message}`, error);
      throw error;
    }
  }
  throw new MissingCredentialError();
}

const unauthenticated = (error: unknown) =>
  error instanceof MissingCredentialError || error instanceof InvalidTokenError || error instanceof MalformedCredentialError;

/**
 * Where a page comes back to: itself for a GET; for a refused form post, which a redirect cannot
 * replay, nowhere named (the pages then go to /account, where the forms are), and the user posts again.
 */
function returnToQuery(request: FastifyRequest): string {
  return request.method === 'GET' || request.method === 'HEAD' ? `?return_to=${encodeURIComponent(request.url)}` : '';
}

/** A page's answer to a caller who is not signed in: to the sign-in page, then back here. */
function signInLocation(request: FastifyRequest): string {
  return `/login${returnToQuery(request)}`;
}

/** A page's answer to a signed-in caller who must step up: to the second-factor prompt, then back here. */
function stepUpLocation(request: FastifyRequest): string {
  return `/login/second-factor${returnToQuery(request)}`;
}

interface RouteFacts {
  readonly schemes: readonly CredentialScheme[];
  /** The route reads a JSON body (it declares one and is no form-posting page). */
  readonly jsonEndpoint: boolean;
}

/** Steps 2b–3: the fresh re-read if declared, then authorization; the principal that passed. */
async function decide(found: Principal, requirement: ProtectedRequirement, options: GuardPluginOptions, now: () => number): Promise<Principal> {
  const principal = requirement.fresh === true ? await refreshPrincipal(found, options.fresh) : found;
  authorize(principal, await effectiveRequirement(principal, requirement, options.secondFactors), Math.floor(now() / 1000));
  return principal;
}

/** A factor change's step-up requirement depends on the user's factors: read them, then it is a plain requirement. */
async function effectiveRequirement(
  principal: Principal,
  requirement: ProtectedRequirement,
  secondFactors: SecondFactorPresence | undefined,
): Promise<ProtectedRequirement> {
  if (requirement.factorChange !== true || secondFactors === undefined) return requirement;
  return { ...requirement, authentication: factorChangeRequirement(await secondFactors.enrolled(principal.subject)) };
}

function guardFor(requirement: ProtectedRequirement, route: RouteFacts, options: GuardPluginOptions): onRequestAsyncHookHandler {
  const { schemes, jsonEndpoint } = route;
  const ambientCheck = options.ambientCheck;
  const now = options.now ?? Date.now;
  if (ambientCheck === undefined && schemes.some((s) => s.ambient))
    throw new TypeError('an ambient credential scheme needs the cross-site checks (ambientCheck)');
  if (requirement.factorChange === true && options.secondFactors === undefined)
    throw new TypeError("a factorChange route needs to know the users' second factors (secondFactors)");
  // The layers, in order; each is its own module and none knows about the others.
  return async function guard(request, reply) {
    try {
      const facts = requestFactsOf(request);
      const { principal: authenticated, scheme, credential } = await authenticateWith(schemes, facts);
      if (scheme.ambient) ambientCheck?.(facts, jsonEndpoint);
      try {
        request.principal = await decide(authenticated, requirement, options, now);
      } catch (error) {
        // A cached cookie session may predate a step-up made on another instance: one fresh read decides.
        if (!(error instanceof StepUpRequiredError) || scheme.authenticateAfresh === undefined) throw error;
        request.principal = await decide(await scheme.authenticateAfresh(credential, facts), requirement, options, now);
      }
    } catch (error) {
      if (requirement.page === true && unauthenticated(error)) return reply.header('cache-control', 'no-store').redirect(signInLocation(request), 303);
      if (requirement.page === true && error instanceof StepUpRequiredError)
        return reply.header('cache-control', 'no-store').redirect(stepUpLocation(request), 303);
      return sendError(request, reply, error);
    }
    return undefined;
  };
}

/** A machine credential: the same Bearer reader as for tokens, then the configured secrets. */
function secretGuardFor(requirement: SecretRequirement, options: GuardPluginOptions): onRequestAsyncHookHandler {
  return async function secretGuard(request, reply) {
    try {
      const check = options.secrets[requirement.secret];
      if (check === undefined) throw new NotFoundError(`no ${requirement.secret} secret is configured: the route is off`);
      const secret = extractBearerCredential({ authorization: requestFactsOf(request).header('authorization'), query: queryOf(request) });
      if (secret === undefined) throw new MissingCredentialError();
      if (!check(secret)) throw new InvalidTokenError(`not a ${requirement.secret} secret`);
    } catch (error) {
      return sendError(request, reply, error);
    }
    return undefined;
  };
}

/**
 * The resource layer runs after validation (params are typed by then): load the resource, 404 if
 * there is none, then the route's policy decides. The handler reads what was loaded.
 */
function resourceGuardFor(rule: ResourceRule): preHandlerAsyncHookHandler {
  return async function resourceGuard(request, reply) {
    try {
      const resource = await rule.load(request);
      if (resource === undefined) throw new NotFoundError(`no resource for policy ${rule.policy.name}`);
      if (request.principal === null) throw new MissingCredentialError();
      enforcePolicy(rule.policy, request.principal, resource);
      rememberResource(request, resource);
    } catch (error) {
      return sendError(request, reply, error);
    }
    return undefined;
  };
}

/** Set on every route whose requirement the guard resolved; a route without it was never seen. */
const GUARDED = Symbol('gatehouse.guarded');

function resolveRequirement(app: FastifyInstance, route: RouteOptions): RouteRequirement {
  const requirement = route.config?.auth ?? app.gatehouseScopeRequirement;
  if (requirement === undefined) throw new UndeclaredRouteError(route.method, route.url);
  if (!isValidRequirement(requirement)) throw new TypeError(`route ${String(route.method)} ${route.url}: config.auth is not a valid requirement`);
  return requirement;
}

/**
 * The OpenAPI operation states the same requirement, so Swagger's Authorize sends the token.
 * OAuth scopes are all OpenAPI can express; roles, tenant, policy and freshness go in the
 * operation's text and in `x-gatehouse-requirement`, which `gatehouse routes` reads too.
 */
function documentRequirement(route: RouteOptions, requirement: ProtectedRequirement | SecretRequirement): void {
  const security = isSecret(requirement) ? [{ [SECRET_SECURITY_SCHEMES[requirement.secret]]: [] }] : tokenSecurity(requirement);
  const described = describeRequirement(requirement);
  const description = route.schema?.description === undefined ? `Requires: ${described}.` : `${route.schema.description}\n\nRequires: ${described}.`;
  route.schema = { ...route.schema, security, description, 'x-gatehouse-requirement': described } as FastifySchema;
}

/**
 * OpenAPI's alternatives: the bearer token with its scopes (one alternative per scope for any-of),
 * and the session cookie, whose scopes OpenAPI cannot state for an apiKey scheme.
 */
function tokenSecurity(requirement: ProtectedRequirement): Record<string, string[]>[] {
  const scopes = requirement.scopes ?? [];
  const schemes = schemesOf(requirement);
  const bearer = requirement.match === 'any' && scopes.length > 1 ? scopes.map((s) => ({ [SECURITY_SCHEME]: [s] })) : [{ [SECURITY_SCHEME]: [...scopes] }];
  return [
    ...(schemes.includes('bearer') ? bearer : []),
    ...(schemes.includes('api_key') ? [{ [API_KEY_SECURITY_SCHEME]: [] }] : []),
    ...(schemes.includes('session') ? [{ [SESSION_SECURITY_SCHEME]: [] }] : []),
  ];
}

/** The guard runs before any other hook of the route (the body is not read for a refused request). */
function installGuards(route: RouteOptions, requirement: ProtectedRequirement | SecretRequirement, options: GuardPluginOptions): void {
  const asArray = <T>(hooks: T | T[] | undefined): T[] => (hooks === undefined ? [] : Array.isArray(hooks) ? hooks : [hooks]);
  const registry: SchemeRegistry = { ...options.schemes, bearer: bearerScheme(options.authenticator) };
  const guard = isSecret(requirement)
    ? secretGuardFor(requirement, options)
    : guardFor(
        requirement,
        {
          schemes: acceptedSchemes(requirement, registry, `${String(route.method)} ${route.url}`),
          jsonEndpoint: route.schema?.body !== undefined && requirement.page !== true,
        },
        options,
      );
  route.onRequest = [guard, ...asArray(route.onRequest)];
  if (!isSecret(requirement) && requirement.resource !== undefined) route.preHandler = [resourceGuardFor(requirement.resource), ...asArray(route.preHandler)];
}

/**
 * A route added before this plugin (on the root before `register`, in a plugin registered
 * earlier, or after an un-awaited `register`) never passed through `onRoute`: it has no guard,
 * whatever its config says. Hooks of the root reach every route, so this one refuses such a
 * route's requests instead of serving them unguarded (500, and the log says which route).
 */
// Callback style, not async: it runs on every request and almost always just continues.
const refuseUnguardedRoutes: onRequestHookHandler = function (request, reply, done) {
  if (request.is404 || (request.routeOptions.config as unknown as Record<symbol, unknown>)[GUARDED] === true) {
    done();
    return;
  }
  const route = `${request.method} ${request.routeOptions.url ?? request.url.split('?')[0]}`;
  sendError(
    request,
    reply,
    new GatehouseError('ERR_INTERNAL', 'internal error', { logReason: `route ${route} was registered before gatehouse: it has no guard, so it is refused` }),
  );
};

/**
 * Routes are protected by default: every route must declare `config.auth`, or startup fails; a
 * route registered before the guard existed is refused at run time. A declared requirement puts
 * the guard before the route's own hooks, so an unauthenticated request is refused before its body
 * is read.
 */
export const guardPlugin = fp<GuardPluginOptions>(
  async (app: FastifyInstance, options) => {
    app.decorateRequest('principal', null);
    app.addHook('onRequest', refuseUnguardedRoutes);
    app.addHook('onRoute', function (this: FastifyInstance, route: RouteOptions) {
      const requirement = resolveRequirement(this, route);
      route.config = Object.assign({ ...route.config, auth: requirement }, { [GUARDED]: true });
      if (isPublic(requirement)) return;
      documentRequirement(route, requirement);
      installGuards(route, requirement, this.gatehouseAuthenticator === undefined ? options : { ...options, authenticator: this.gatehouseAuthenticator });
    });
  },
  { name: 'gatehouse-guard', fastify: '5.x' },
);
