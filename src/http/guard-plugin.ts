import type { FastifyInstance, FastifyRequest, onRequestAsyncHookHandler, RouteOptions } from 'fastify';
import fp from 'fastify-plugin';
import { MissingCredentialError } from '../errors/errors.js';
import type { Authenticator } from '../guard/authenticator.js';
import { extractBearerCredential } from '../guard/bearer-credential.js';
import { authorize, isPublic, isValidRequirement, type RouteRequirement } from '../guard/requirement.js';
import { sendError } from './error-handler.js';
import { SECURITY_SCHEME } from './openapi.js';

export interface GuardPluginOptions {
  readonly authenticator: Authenticator;
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

function guardFor(requirement: RouteRequirement, authenticator: Authenticator): onRequestAsyncHookHandler {
  // The layers, in order; each is its own module and none knows about the others.
  return async function guard(request, reply) {
    try {
      const token = extractBearerCredential({ rawHeaders: request.raw.rawHeaders, query: queryOf(request) });
      if (token === undefined) throw new MissingCredentialError();
      const principal = await authenticator.authenticate(token);
      authorize(principal, requirement);
      request.principal = principal;
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
      route.schema = { ...route.schema, security: [{ [SECURITY_SCHEME]: [...(requirement.scopes ?? [])] }] };
      const existing = route.onRequest === undefined ? [] : Array.isArray(route.onRequest) ? route.onRequest : [route.onRequest];
      route.onRequest = [guardFor(requirement, options.authenticator), ...existing];
    });
  },
  { name: 'gatehouse-guard', fastify: '5.x' },
);
