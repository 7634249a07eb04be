import type { FastifyInstance, FastifyRequest, FastifySchema, onRequestAsyncHookHandler, preHandlerAsyncHookHandler, RouteOptions } from 'fastify';
import fp from 'fastify-plugin';
import { MissingCredentialError, NotFoundError } from '../errors/errors.js';
import type { Authenticator } from '../guard/authenticator.js';
import { extractBearerCredential } from '../guard/bearer-credential.js';
import { refreshPrincipal, type FreshPrincipalDeps } from '../guard/fresh-principal.js';
import { enforcePolicy } from '../guard/policy.js';
import { authorize, describeRequirement, isPublic, isValidRequirement, type ResourceRule, type RouteRequirement } from '../guard/requirement.js';
import { rememberResource } from './resource-guard.js';
import { sendError } from './error-handler.js';
import { SECURITY_SCHEME } from './openapi.js';

export interface GuardPluginOptions {
  readonly authenticator: Authenticator;
  /** For routes declaring `fresh: true`: the database as it is now, past every cache. */
  readonly fresh: FreshPrincipalDeps;
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

function guardFor(requirement: RouteRequirement, options: GuardPluginOptions): onRequestAsyncHookHandler {
  // The layers, in order; each is its own module and none knows about the others.
  return async function guard(request, reply) {
    try {
      const token = extractBearerCredential({ rawHeaders: request.raw.rawHeaders, query: queryOf(request) });
      if (token === undefined) throw new MissingCredentialError();
      const authenticated = await options.authenticator.authenticate(token);
      const principal = requirement.public !== true && requirement.fresh === true ? await refreshPrincipal(authenticated, options.fresh) : authenticated;
      authorize(principal, requirement);
      request.principal = principal;
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

/**
 * Routes are protected by default: every route must declare `config.auth`, or startup fails.
 * A declared requirement installs the guard as the route's first onRequest hook, so an
 * unauthenticated request is refused before its body is read.
 */
export const guardPlugin = fp<GuardPluginOptions>(
  async (app: FastifyInstance, options) => {
    app.decorateRequest('principal', null);
    app.addHook('onRoute', function (this: FastifyInstance, route: RouteOptions) {
      const requirement = route.config?.auth ?? this.gatehouseScopeRequirement;
      if (requirement === undefined) throw new UndeclaredRouteError(route.method, route.url);
      if (!isValidRequirement(requirement)) throw new TypeError(`route ${String(route.method)} ${route.url}: config.auth is not a valid requirement`);
      route.config = { ...route.config, auth: requirement };
      if (isPublic(requirement)) return;
      // The OpenAPI operation states the same requirement, so Swagger's Authorize sends the token.
      // OAuth scopes are all OpenAPI can express; roles, tenant, policy and freshness go in the
      // operation's text and in `x-gatehouse-requirement`, which `gatehouse routes` reads too.
      const security = requirement.match === 'any' && (requirement.scopes ?? []).length > 1 ? requirement.scopes!.map((s) => ({ [SECURITY_SCHEME]: [s] })) : [{ [SECURITY_SCHEME]: [...(requirement.scopes ?? [])] }];
      const described = describeRequirement(requirement);
      const description = route.schema?.description === undefined ? `Requires: ${described}.` : `${route.schema.description}\n\nRequires: ${described}.`;
      route.schema = { ...route.schema, security, description, 'x-gatehouse-requirement': described } as FastifySchema;
      const existing = route.onRequest === undefined ? [] : Array.isArray(route.onRequest) ? route.onRequest : [route.onRequest];
      route.onRequest = [guardFor(requirement, options), ...existing];
      if (requirement.resource !== undefined) {
        const handlers = route.preHandler === undefined ? [] : Array.isArray(route.preHandler) ? route.preHandler : [route.preHandler];
        route.preHandler = [resourceGuardFor(requirement.resource), ...handlers];
      }
    });
  },
  { name: 'gatehouse-guard', fastify: '5.x' },
);
