import { refreshCookieName } from '../sessions/cookie-names.js';
import { readSessionCookie } from '../sessions/session-cookie.js';
import { requestFactsOf } from './request-facts.js';
import type {
  FastifyInstance,
  FastifyRequest,
  onErrorAsyncHookHandler,
  onRequestAsyncHookHandler,
  onResponseAsyncHookHandler,
  onSendAsyncHookHandler,
  preHandlerAsyncHookHandler,
  RouteOptions,
} from 'fastify';
import fp from 'fastify-plugin';
import { ClientAuthenticationFailedError, LoginRefusedError, ThrottledError } from '../errors/errors.js';
import { basicCredentials } from './client-credentials.js';
import type { Refusal } from '../throttle/limiter.js';
import type { LoginAttempt } from '../throttle/login-throttle.js';
import type { Throttle } from '../throttle/throttle.js';
import { sendError } from './error-handler.js';

/**
 * What a route counts. `token` is the OAuth token endpoint: `login` for the password grant (and,
 * by client_id, for the client-credentials grant), `refresh` for the refresh-token grant.
 */
export const THROTTLE_RULES = ['login', 'token', 'refresh', 'register', 'password_change', 'revoke', 'ws_ticket', 'mail_request', 'passkey_options'] as const;
export type ThrottleRule = (typeof THROTTLE_RULES)[number];

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Checked in preHandler: after the body is parsed and the guard ran, before the handler hashes anything. */
    throttle?: ThrottleRule;
  }
}

export interface ThrottlePluginOptions {
  readonly throttle: Throttle;
  /** Told of every refusal (the audit trail; it dedupes). */
  readonly onThrottled?: (request: FastifyRequest, limit: string) => void;
  /** The issuer, which names the refresh cookie: a cookie-mode refresh counts against its session like a body one. */
  readonly issuer?: string;
}

type Check = (request: FastifyRequest, username?: string) => Promise<Refusal | undefined>;

/**
 * The client a client-credentials request names (Basic header, else the body): its failed
 * authentications count like failed logins of that name, so guessing a service account's secret
 * meets the same limits as guessing a password. A malformed header is the pipeline's to refuse.
 */
function clientIdOf(request: FastifyRequest): string | undefined {
  try {
    return basicCredentials(request.raw.rawHeaders)?.clientId ?? bodyField(request, 'client_id');
  } catch {
    return undefined;
  }
}

/** The refresh cookie's value, if one (a repeated one counts as none here; /auth/refresh refuses it). */
function refreshCookieOf(request: FastifyRequest, issuer: string): string | undefined {
  const value = readSessionCookie(requestFactsOf(request).header('cookie'), refreshCookieName(issuer));
  return value === 'malformed' ? undefined : value;
}

function bodyField(request: FastifyRequest, name: string): string | undefined {
  const body = request.body;
  if (typeof body !== 'object' || body === null) return undefined;
  const value = (body as Record<string, unknown>)[name];
  return typeof value === 'string' ? value : undefined;
}

/**
 * Throttling at the HTTP edge (the rules live in src/throttle):
 * - every request, every route (404s too): the per-address ceiling, as an onRequest hook;
 * - a route that declares `config.throttle` gets a preHandler that checks its limit; login routes
 *   also report each attempt's outcome: a `LoginRefusedError` (onError, before the answer goes
 *   out) is a failure, a 200 (onSend) a success.
 * A refusal is a `ThrottledError`: 429 with `Retry-After`, one body for every reason.
 */
export const throttlePlugin = fp<ThrottlePluginOptions>(
  async (app: FastifyInstance, { throttle, onThrottled, issuer }) => {
    const attempts = new WeakMap<FastifyRequest, LoginAttempt>();
    const refuse = (request: FastifyRequest, refusal: Refusal): ThrottledError => {
      onThrottled?.(request, refusal.limit);
      return new ThrottledError(refusal.retryAfterMs, refusal.limit);
    };

    const login: Check = async (request, username = bodyField(request, 'username')) => {
      const decision = await throttle.login.begin({ username, ip: request.ip });
      if ('refused' in decision) return decision.refused;
      attempts.set(request, decision.attempt);
      return undefined;
    };
    const refresh: Check = async (request) => {
      const token = bodyField(request, 'refresh_token') ?? (issuer === undefined ? undefined : refreshCookieOf(request, issuer));
      return token === undefined ? undefined : throttle.requests.refresh(token);
    };
    const checks: Record<ThrottleRule, Check> = {
      login,
      refresh,
      async token(request) {
        const grant = bodyField(request, 'grant_type');
        // Anything else is refused by the pipeline before it costs anything.
        if (grant === 'client_credentials') return login(request, clientIdOf(request));
        return grant === 'password' ? login(request) : grant === 'refresh_token' ? refresh(request) : undefined;
      },
      register: async (request) => throttle.requests.register(request.ip),
      password_change: async (request) => (request.principal === null ? undefined : throttle.requests.passwordChange(request.principal.subject)),
      revoke: async (request) => throttle.requests.revoke(request.ip),
      ws_ticket: async (request) => (request.principal === null ? undefined : throttle.requests.wsTicket(request.principal.subject)),
      mail_request: async (request) => throttle.requests.mailRequest(request.ip),
      passkey_options: async (request) => throttle.requests.passkeyOptions(request.ip),
    };

    const recordFailure: onErrorAsyncHookHandler = async (request, _reply, error) => {
      const attempt = attempts.get(request);
      if (attempt === undefined || !(error instanceof LoginRefusedError || error instanceof ClientAuthenticationFailedError)) return;
      try {
        await attempt.failed();
      } catch (err) {
        request.log.warn({ err }, 'throttle: failed login not counted');
      }
    };
    const settle: onSendAsyncHookHandler = async (request, reply, payload) => {
      const attempt = attempts.get(request);
      if (attempt === undefined) return payload;
      attempts.delete(request);
      try {
        // 200 from the API; 303 from the hosted sign-in form, which redirects once signed in.
        if (reply.statusCode === 200 || reply.statusCode === 303) await attempt.succeeded();
      } catch (err) {
        request.log.warn({ err }, 'throttle: successful login not recorded');
      } finally {
        attempt.end();
      }
      return payload;
    };
    // Only if the reply never went through onSend; `end` is idempotent.
    const release: onResponseAsyncHookHandler = async (request) => {
      attempts.get(request)?.end();
    };

    if (throttle.limits.GLOBAL_IP !== null) {
      const ceiling: onRequestAsyncHookHandler = async (request, reply) => {
        try {
          const refusal = await throttle.requests.global(request.ip);
          if (refusal !== undefined) return sendError(request, reply, refuse(request, refusal));
        } catch (error) {
          return sendError(request, reply, error);
        }
        return undefined;
      };
      app.addHook('onRequest', ceiling);
    }

    app.addHook('onRoute', (route: RouteOptions) => {
      const rule = route.config?.throttle;
      if (rule === undefined) return;
      if (!(THROTTLE_RULES as readonly string[]).includes(rule))
        throw new TypeError(`route ${String(route.method)} ${route.url}: config.throttle is not one of ${THROTTLE_RULES.join(', ')}`);
      const check = checks[rule];
      const preHandler: preHandlerAsyncHookHandler = async (request, reply) => {
        try {
          const refusal = await check(request);
          if (refusal !== undefined) return sendError(request, reply, refuse(request, refusal));
        } catch (error) {
          return sendError(request, reply, error);
        }
        return undefined;
      };
      route.preHandler = [preHandler, ...asArray(route.preHandler)];
      if (rule === 'login' || rule === 'token') {
        route.onError = [recordFailure, ...asArray(route.onError)];
        route.onSend = [settle, ...asArray(route.onSend)];
        route.onResponse = [release, ...asArray(route.onResponse)];
      }
    });
  },
  { name: 'gatehouse-throttle', fastify: '5.x' },
);

function asArray<T>(hooks: T | T[] | undefined): T[] {
  return hooks === undefined ? [] : Array.isArray(hooks) ? hooks : [hooks];
}
