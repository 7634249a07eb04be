import fastifyCookie from '@fastify/cookie';
import type { FastifyInstance, FastifyReply, FastifyRequest, onRequestAsyncHookHandler } from 'fastify';
import { CsrfError } from '../../errors/errors.js';
import { trustedOrigins, type TrustedOrigins } from '../../guard/trusted-origins.js';
import { createPageRenderer, type PageData, type PageName } from '../../pages/page-renderer.js';
import { safeReturnTo } from '../../pages/return-to.js';
import { clearSessionCookie, readSessionCookie, serializeSessionCookie, sessionCookieName } from '../../sessions/session-cookie.js';
import { registerStrictFormParser, requireFormBody } from '../body-parsers.js';
import { refuseCrossSite } from '../cross-site.js';
import { requestFactsOf } from '../request-facts.js';
import { registerPageAssets } from './assets.js';
import { createPageCsrf, type PageCsrf } from './csrf.js';
import { pageCsp, pageHeaders, registerPageHeaders } from './headers.js';

/** What every hosted page route uses: rendering, the form checks, return_to, the session cookie. */
export interface PageKit {
  readonly trust: TrustedOrigins;
  readonly csrf: PageCsrf;
  /**
   * onRequest of every page POST, signed in or not (login CSRF): the CSRF layers 1–2
   * (guard/csrf-layers.ts), before the throttle counts it and before its body is read.
   */
  readonly refuseCrossSite: onRequestAsyncHookHandler;
  /** preHandler of every page POST: form bodies only, then layer 3, the synchronizer token. */
  checkForm(request: FastifyRequest): Promise<void>;
  send<P extends PageName>(reply: FastifyReply, status: number, page: P, data: PageData[P]): FastifyReply;
  /** A return_to that passed the check, to carry through a form; an unsafe one is dropped. */
  carried(raw: string | undefined): string | undefined;
  /** Where to go after a sign-in: the checked return_to, else the account page. */
  target(raw: string | undefined): string;
  /** The session cookie the browser sent, if one well-formed copy. */
  sessionCookieOf(request: FastifyRequest): string | undefined;
  setSessionCookie(reply: FastifyReply, value: string, maxAgeSeconds: number): FastifyReply;
  clearSessionCookie(reply: FastifyReply): FastifyReply;
  /** This answer may run `/assets/passkeys.js` (pages with passkey buttons only). */
  allowPasskeyScript(reply: FastifyReply): FastifyReply;
}

/**
 * The page scope's plumbing on `scope` (its own encapsulation context): cookies parsed, form bodies
 * accepted, the page headers, the stylesheet route; returns the kit its routes share.
 */
export async function preparePageScope(
  scope: FastifyInstance,
  config: { readonly issuer: string; readonly allowedOrigins: readonly string[] },
): Promise<PageKit> {
  await scope.register(fastifyCookie);
  registerStrictFormParser(scope);
  registerPageHeaders(scope, pageHeaders(config.allowedOrigins));
  registerPageAssets(scope);

  const { issuer } = config;
  const trust = trustedOrigins(config);
  const csrf = createPageCsrf(issuer);
  const renderer = createPageRenderer();
  const cookieName = sessionCookieName(issuer);
  const scriptCsp = pageCsp(config.allowedOrigins, true);
  return {
    trust,
    csrf,
    refuseCrossSite: refuseCrossSite(trust),
    async checkForm(request) {
      requireFormBody(request.headers['content-type'], 'page');
      const refusal = csrf.refusalOf(request);
      if (refusal !== undefined) throw new CsrfError('synchronizer-token', refusal);
    },
    send: (reply, status, page, data) => reply.code(status).type('text/html; charset=utf-8').send(renderer.render(page, data)),
    carried: (raw) => (raw === undefined ? undefined : safeReturnTo(raw, trust)),
    target: (raw) => safeReturnTo(raw, trust),
    sessionCookieOf(request) {
      const value = readSessionCookie(requestFactsOf(request).header('cookie'), cookieName);
      return value === 'malformed' ? undefined : value;
    },
    setSessionCookie: (reply, value, maxAgeSeconds) => reply.header('set-cookie', serializeSessionCookie(issuer, value, maxAgeSeconds)),
    clearSessionCookie: (reply) => reply.header('set-cookie', clearSessionCookie(issuer)),
    allowPasskeyScript: (reply) => reply.header('content-security-policy', scriptCsp),
  };
}
