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
import { GatehouseError, InvalidTokenError, MissingCredentialError, NotFoundError } from '../errors/errors.js';
import type { Authenticator } from '../guard/authenticator.js';
import { authorizationHeaders, extractBearerCredential } from '../guard/bearer-credential.js';
import { refreshPrincipal, type FreshPrincipalDeps } from '../guard/fresh-principal.js';
import { enforcePolicy } from '../guard/policy.js';
import {
  authorize,
  describeRequirement,
  isPublic,
  isSecret,
  isValidRequirement,
  type ProtectedRequirement,
  type ResourceRule,
  type RouteRequirement,
  type SecretRequirement,
  type SecretScheme,
} from '../guard/requirement.js';
import type { SharedSecretCheck } from '../guard/shared-secret.js';
import { rememberResource } from './resource-guard.js';
import { sendError } from './error-handler.js';
import { SECRET_SECURITY_SCHEMES, SECURITY_SCHEME } from './openapi.js';

export interface GuardPluginOptions {
  readonly authenticator: Authenticator;
  /** For routes declaring `fresh: true`: the database as it is now, past every cache. */
  readonly fresh: FreshPrincipalDeps;
  /** The check of each machine secret; undefined: none configured, its routes answer 404. */
  readonly secrets: Readonly<Record<SecretScheme, SharedSecretCheck | undefined>>;
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

function guardFor(requirement: ProtectedRequirement, options: GuardPluginOptions): onRequestAsyncHookHandler {
  // The layers, in order; each is its own module and none knows about the others.
  return async function guard(request, reply) {
    try {
      const token = extractBearerCredential({ authorization: authorizationHeaders(request.raw.rawHeaders), query: queryOf(request) });
      if (token === undefined) throw new MissingCredentialError();
      const authenticated = await options.authenticator.authenticate(token);
      const principal = requirement.fresh === true ? await refreshPrincipal(authenticated, options.fresh) : authenticated;
      authorize(principal, requirement);
      request.principal = principal;
    } catch (error) {
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
      const secret = extractBearerCredential({ authorization: authorizationHeaders(request.raw.rawHeaders), query: queryOf(request) });
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

function tokenSecurity(requirement: ProtectedRequirement): Record<string, string[]>[] {
  const scopes = requirement.scopes ?? [];
  return requirement.match === 'any' && scopes.length > 1 ? scopes.map((s) => ({ [SECURITY_SCHEME]: [s] })) : [{ [SECURITY_SCHEME]: [...scopes] }];
}

/** The guard runs before any other hook of the route (the body is not read for a refused request). */
function installGuards(route: RouteOptions, requirement: ProtectedRequirement | SecretRequirement, options: GuardPluginOptions): void {
  const asArray = <T>(hooks: T | T[] | undefined): T[] => (hooks === undefined ? [] : Array.isArray(hooks) ? hooks : [hooks]);
  route.onRequest = [isSecret(requirement) ? secretGuardFor(requirement, options) : guardFor(requirement, options), ...asArray(route.onRequest)];
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
