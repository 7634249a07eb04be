import { randomUUID } from 'node:crypto';
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import { validatorCompiler, type ZodTypeProvider } from 'fastify-type-provider-zod';
import { responseSerializerCompiler } from './response-serializer.js';
import type { Authenticator } from '../guard/authenticator.js';
import { PUBLIC } from '../guard/requirement.js';
import { createSharedSecretCheck } from '../guard/shared-secret.js';
import { sessionScheme } from '../guard/session-scheme.js';
import { ticketScheme } from '../sockets/ticket-scheme.js';
import type { GatehouseServices } from '../services.js';
import { registerStrictBodyParsers } from './body-parsers.js';
import { corsFor } from './cors.js';
import { trustedOrigins } from '../guard/trusted-origins.js';
import { crossSiteCheck } from './cross-site.js';
import { registerErrorHandling, sendError } from './error-handler.js';
import './fastify-augment.js';
import { guardPlugin } from './guard-plugin.js';
import { apiKeyScheme } from '../apikeys/api-key-scheme.js';
import { provideOpenSockets } from './gatehouse-socket.js';
import { createThrottleAuditor } from '../audit/throttle-audit.js';
import { auditContextOf } from './audit-context.js';
import { throttlePlugin } from './throttle-plugin.js';
import { metricsPlugin } from './metrics-plugin.js';
import { AccessLogController, loggerOptions } from './logger.js';
import { registerOpenApi } from './openapi.js';
import { answerUnmetExpectations, clientErrorHandler, frameworkErrors, registerClosingRefusal, registerPreRoutingRefusals } from './pre-routing-errors.js';
import { registerSecurityHeaders } from './security-headers.js';
import { registerTextInputCheck } from './text-input.js';
import { parseStrictQueryString } from './strict-query-string.js';
import { healthRoutes } from './routes/health.js';
import { adminRoutes } from './routes/admin.js';
import { tenantAdminRoutes } from './routes/tenant-admin.js';
import { eventRoutes } from './routes/events.js';
import { logoutRoutes } from './routes/logout.js';
import { meRoutes } from './routes/me.js';
import { passkeyRoutes } from './routes/passkeys.js';
import { pageRoutes } from './routes/pages.js';
import { passwordRoutes } from './routes/password.js';
import { factorRoutes } from './routes/factors.js';
import { stepUpRoutes } from './routes/step-up.js';
import { passwordResetRoutes } from './routes/password-reset.js';
import { emailRoutes } from './routes/email.js';
import { revokeRoutes } from './routes/revoke.js';
import { revocationFeedRoutes } from './routes/revocation-feed.js';
import { sessionRoutes } from './routes/sessions.js';
import { apiKeyRoutes } from './routes/api-keys.js';
import { serviceAccountRoutes } from './routes/service-accounts.js';
import { registerRoutes } from './routes/register.js';
import { tokenRoutes } from './routes/token.js';
import { browserSessionRoutes } from './routes/browser-session.js';
import { wellKnownRoutes } from './routes/well-known.js';
import { wsTicketRoutes } from './routes/ws-ticket.js';

export const VERSION = '0.1.0';

export interface BuildAppOptions {
  /** Replaces the configured pino logger (tests pass a stream or `false`). */
  readonly logger?: FastifyServerOptions['logger'] | FastifyServerOptions['loggerInstance'];
  /** Lets a test or an embedding app add its own routes before the app is sealed. */
  readonly extraRoutes?: (app: FastifyInstance) => void | Promise<void>;
}

export interface MountOptions {
  /** Where Gatehouse's own endpoints go (`/auth/token` becomes `<prefix>/auth/token`). */
  readonly prefix: string;
  /** Serve Swagger UI at /docs and the OpenAPI document at <prefix>/openapi.json. */
  readonly docs: boolean;
  /**
   * `root`: the standalone server has set error handling, strict parsers (text-input.ts too) and
   * security headers on the whole app already. `scoped`: a host app owns the root, so they are set for
   * Gatehouse's endpoints only.
   */
  readonly plumbing: 'root' | 'scoped';
  /**
   * What the routes outside Gatehouse's own endpoints (a library host's) authenticate with: an
   * authenticator for the host's resource (RFC 8707). Default: Gatehouse's own audience.
   */
  readonly hostAuthenticator?: Authenticator;
}

/**
 * Gatehouse on a Fastify instance: the guard for every route of the instance (deny by default,
 * the host's routes included), throttling, metrics, and the endpoints under `prefix`. The
 * standalone server and the library plugin both come through here.
 */
export async function mountGatehouse(app: FastifyInstance, services: GatehouseServices, options: MountOptions): Promise<void> {
  const detachEvents = services.events.attach(({ level, event, error, ...fields }) => {
    const record = error === undefined ? { event, ...fields } : { event, ...fields, err: error };
    if (level === 'warn') app.log.warn(record, event);
    else app.log.info(record, event);
  });
  app.addHook('onClose', (_instance, done) => {
    detachEvents();
    done();
  });
  const cors = corsFor(services.config.corsOrigins);
  // Before the guard's own onRoute hook, which refuses a route that declares nothing.
  if (cors !== undefined) app.addHook('onRoute', cors.declarePreflight);
  await app.register(guardPlugin, {
    authenticator: options.hostAuthenticator ?? services.authenticator,
    ambientCheck: crossSiteCheck(trustedOrigins(services.config)),
    now: services.now,
    secondFactors: services.secondFactors,
    fresh: { users: services.uncachedUsers, tenants: services.tenants, scopes: services.scopes },
    secrets: {
      'revocation-feed': services.config.revocationFeedSecrets.length === 0 ? undefined : createSharedSecretCheck(services.config.revocationFeedSecrets),
    },
    schemes: {
      api_key: apiKeyScheme(services.apiKeys, (keyId) => services.throttle.requests.apiKey(keyId)),
      session: sessionScheme(services.browserSessions, services.config.issuer),
      ticket: ticketScheme(services.wsTickets, trustedOrigins(services.config)),
    },
  });
  provideOpenSockets(app, services);
  const auditThrottled = createThrottleAuditor({
    audit: services.audit,
    now: services.now,
    onError: (error) => app.log.warn({ err: error }, 'throttled request not audited'),
  });
  await app.register(throttlePlugin, {
    throttle: services.throttle,
    issuer: services.config.issuer,
    onThrottled: (request, limit) => auditThrottled(auditContextOf(request), limit),
  });
  await app.register(metricsPlugin, { metrics: services.metrics });
  // After the per-address limit: refusals made before routing are throttled like any request.
  registerPreRoutingRefusals(app, { requireHost: options.plumbing === 'root' });
  // After those refusals and the per-address limit: a preflight is throttled and checked like any request.
  if (cors !== undefined) await cors.register(app);
  if (options.docs) await registerOpenApi(app, { issuer: services.config.issuer, scopes: services.scopes, version: VERSION });

  await app.register(
    async (scope) => {
      scope.decorate('gatehouseAuthenticator', { getter: () => services.authenticator });
      if (options.plumbing === 'scoped') {
        scope.setValidatorCompiler(validatorCompiler);
        scope.setSerializerCompiler(responseSerializerCompiler);
        scope.setErrorHandler((error, request, reply) => sendError(request, reply, error));
        registerStrictBodyParsers(scope);
        registerSecurityHeaders(scope);
        registerTextInputCheck(scope);
      }
      for (const routes of [
        wellKnownRoutes,
        healthRoutes,
        registerRoutes,
        tokenRoutes,
        browserSessionRoutes,
        revokeRoutes,
        logoutRoutes,
        meRoutes,
        sessionRoutes,
        apiKeyRoutes,
        eventRoutes,
        adminRoutes,
        serviceAccountRoutes,
        tenantAdminRoutes,
        passwordRoutes,
        factorRoutes,
        stepUpRoutes,
        passwordResetRoutes,
        emailRoutes,
        revocationFeedRoutes,
        wsTicketRoutes,
        passkeyRoutes,
      ]) {
        await scope.register(routes, { services });
      }
      // The hosted pages post to and link to absolute paths (/login, /account): standalone server only.
      if (options.plumbing === 'root') await scope.register(pageRoutes, { services });
      if (options.docs) scope.get('/openapi.json', { config: { auth: PUBLIC }, schema: { hide: true } }, async () => app.swagger());
    },
    { prefix: options.prefix },
  );
}

export async function buildApp(services: GatehouseServices, options: BuildAppOptions = {}): Promise<FastifyInstance> {
  const { config } = services;
  const logger = options.logger ?? loggerOptions(config);
  const app = Fastify({
    ...(typeof logger === 'object' && logger !== null && 'child' in logger ? { loggerInstance: logger } : { logger }),
    bodyLimit: config.bodyLimitBytes,
    // Only listed proxies may speak for the client address (proxy-addr semantics).
    trustProxy: config.trustedProxies.length > 0 ? [...config.trustedProxies] : false,
    genReqId: () => randomUUID(),
    requestIdHeader: false,
    // Answers Node and the router would give on their own go through the error layer instead
    // (src/http/pre-routing-errors.ts); the missing Host is refused there.
    clientErrorHandler,
    frameworkErrors,
    http: { requireHostHeader: false },
    routerOptions: { querystringParser: parseStrictQueryString },
    // registerClosingRefusal answers instead, through the error layer.
    return503OnClosing: false,
    logController: new AccessLogController({ requestIdLogLabel: 'request_id' }),
  }).withTypeProvider<ZodTypeProvider>();

  answerUnmetExpectations(app);
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(responseSerializerCompiler);
  registerErrorHandling(app);
  registerStrictBodyParsers(app);
  registerTextInputCheck(app);
  app.addHook('onRequest', (request, reply, done) => {
    reply.header('x-request-id', request.id);
    done();
  });
  registerSecurityHeaders(app);
  registerClosingRefusal(app);
  await mountGatehouse(app, services, { prefix: '', docs: true, plumbing: 'root' });
  if (options.extraRoutes !== undefined) await options.extraRoutes(app);

  await app.ready();
  return app;
}
