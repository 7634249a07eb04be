import Tokens from '@fastify/csrf';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { csrfCookieName, issuerCookiesSecure } from '../../sessions/cookie-names.js';

/**
 * Layer 3 of the CSRF defence (OWASP CSRF cheat sheet, "synchronizer token pattern"): every hosted
 * form carries `_csrf`, a token derived from a secret that lives in an HttpOnly SameSite=Strict
 * cookie, and every page POST must present both. This covers the sign-in and registration forms too
 * (login CSRF: a cross-site form that signs the victim in as the attacker). A cross-site page can
 * neither read the cookie nor read a token out of our pages (no CORS, frame-ancestors 'none').
 *
 * Tokens come from @fastify/csrf (the library @fastify/csrf-protection wraps): salted HMAC of the
 * secret, compared in constant time. We call it directly rather than through the plugin's hook so a
 * refusal is our typed 403 with the reason in the log, not the plugin's own FST_CSRF_* error.
 */

export type CsrfRefusal = 'no_token' | 'no_secret' | 'token_mismatch';

export interface PageCsrf {
  /** The form token for this browser, setting its secret cookie first if it has none (or a bad one). */
  tokenFor(request: FastifyRequest, reply: FastifyReply): string;
  /** Why the page POST is refused, or undefined when its `_csrf` matches the browser's secret. */
  refusalOf(request: FastifyRequest): CsrfRefusal | undefined;
}

const SECRET_BYTES = 32;
// base64url of 32 bytes (what secretSync gives): a cookie of another shape is a planted or broken one.
const SECRET_SHAPE = /^[A-Za-z0-9_-]{43}$/;
const MAX_TOKEN_LENGTH = 256;

/** Needs @fastify/cookie registered in the scope (request.cookies, reply.setCookie). */
export function createPageCsrf(issuer: string): PageCsrf {
  const tokens = Tokens({ secretLength: SECRET_BYTES });
  const name = csrfCookieName(issuer);
  const secure = issuerCookiesSecure(issuer);
  const secretOf = (request: FastifyRequest) => {
    const value = request.cookies[name];
    return value !== undefined && SECRET_SHAPE.test(value) ? value : undefined;
  };
  return {
    tokenFor(request, reply) {
      const present = secretOf(request);
      if (present !== undefined) return tokens.create(present);
      const secret = tokens.secretSync();
      // A session cookie (no Max-Age): the secret lives as long as the browser session.
      reply.setCookie(name, secret, { path: '/', httpOnly: true, sameSite: 'strict', secure });
      return tokens.create(secret);
    },
    refusalOf(request) {
      const body = request.body as Record<string, unknown> | undefined | null;
      const token = typeof body === 'object' && body !== null ? body._csrf : undefined;
      if (typeof token !== 'string' || token === '' || token.length > MAX_TOKEN_LENGTH) return 'no_token';
      const secret = secretOf(request);
      if (secret === undefined) return 'no_secret';
      return tokens.verify(secret, token) ? undefined : 'token_mismatch';
    },
  };
}
