import type { FastifyPluginAsyncZod, ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { PUBLIC } from '../../guard/requirement.js';
import { clearSessionCookie, readSessionCookie, serializeSessionCookie, sessionCookieName } from '../../sessions/session-cookie.js';
import type { GatehouseServices } from '../../services.js';
import { auditContextOf, signInContextOf } from '../audit-context.js';
import { registerStrictFormParser } from '../body-parsers.js';
import { trustedOrigins } from '../../guard/trusted-origins.js';
import { refuseCrossSite } from '../cross-site.js';
import { requestFactsOf } from '../request-facts.js';
import { problemSchema } from './problem-schema.js';
import { ValidationError } from '../../errors/errors.js';
import { cookieMfaSignInOf } from '../cookie-mfa-request.js';
import { secondFactorProofOf } from '../../factors/second-factor.js';

// A repeated form field arrives as an array and fails here (400), like any other wrong shape.
const signInBody = z
  .object({
    username: z.string().max(256),
    password: z.string().max(4096),
    tenant: z.string().min(1).max(64).optional(),
  })
  .strict();

const mfaBody = z
  .object({
    mfa_challenge: z.string().max(128),
    otp: z.string().max(16).optional(),
    recovery_code: z.string().max(64).optional(),
  })
  .strict();

const signedInSchema = z.object({ session: z.object({ id: z.uuid(), expires_at: z.iso.datetime() }) });

/**
 * Browser sessions: `POST /auth/session` signs in and sets the session cookie, `DELETE` signs out
 * and clears it. Both are public (the sign-in's credential is the password in the body; a sign-out
 * without a live cookie has nothing to end); the sign-in is throttled like `/auth/login`; the CSRF
 * layers guard them like every cookie-carrying write.
 */
export const browserSessionRoutes: FastifyPluginAsyncZod<{ services: GatehouseServices }> = async (app, { services }) => {
  const { issuer } = services.config;
  const cookieName = sessionCookieName(issuer);
  const crossSite = refuseCrossSite(trustedOrigins(services.config));
  const presentedCookie = (request: Parameters<typeof requestFactsOf>[0]): string | undefined => {
    const value = readSessionCookie(requestFactsOf(request).header('cookie'), cookieName);
    return value === 'malformed' ? undefined : value;
  };

  // HTML forms post application/x-www-form-urlencoded: the form parser lives in this scope only.
  await app.register(async (formScope) => {
    registerStrictFormParser(formScope);
    const scope = formScope.withTypeProvider<ZodTypeProvider>();

    scope.post(
      '/auth/session',
      {
        config: { auth: PUBLIC, throttle: 'login' },
        onRequest: crossSite,
        schema: {
          tags: ['auth'],
          summary: 'Browser sign-in: a new cookie session (Set-Cookie), the session the browser came with ends',
          description: `Sets \`${cookieName}\` (HttpOnly, SameSite=Lax, Path=/${cookieName.startsWith('__Host-') ? ', Secure' : ''}; Max-Age = the session's absolute lifetime). Takes JSON or an HTML form. A wrong password, an unknown user, a disabled or locked account and a tenant one is not a member of all read the same. An account with a second factor gets 403 ERR_MFA_REQUIRED with \`mfa_challenge\` and no cookie: \`POST /auth/session/mfa\` finishes the sign-in.`,
          consumes: ['application/json', 'application/x-www-form-urlencoded'],
          body: signInBody,
          response: { 200: signedInSchema, 400: problemSchema, 401: problemSchema, 403: problemSchema },
        },
      },
      async (request, reply) => {
        const { username, password, tenant } = request.body;
        const { cookieValue, session, maxAgeSeconds } = await services.browserSessions.signIn({
          username,
          password,
          tenant,
          ...signInContextOf(request),
          presentedCookie: presentedCookie(request),
        });
        request.log.info({ event: 'session.created', user_id: session.userId, session_id: session.id }, 'browser signed in');
        return reply
          .headers({ 'cache-control': 'no-store', pragma: 'no-cache' })
          .header('set-cookie', serializeSessionCookie(issuer, cookieValue, maxAgeSeconds))
          .send({ session: { id: session.id, expires_at: session.expiresAt.toISOString() } });
      },
    );

    scope.post(
      '/auth/session/mfa',
      {
        config: { auth: PUBLIC },
        onRequest: crossSite,
        schema: {
          tags: ['auth'],
          summary: 'Browser sign-in, second step: the MFA challenge and a code → the cookie session',
          description:
            'Exactly one of `otp` and `recovery_code`. The challenge must come from `POST /auth/session` (a token-endpoint challenge does not open a cookie session); it is single use, a wrong code leaves it 4 more tries and counts against GATEHOUSE_LIMIT_OTP_USER. Every refusal is the same 401.',
          consumes: ['application/json', 'application/x-www-form-urlencoded'],
          body: mfaBody,
          response: { 200: signedInSchema, 400: problemSchema, 401: problemSchema, 403: problemSchema, 429: problemSchema },
        },
      },
      async (request, reply) => {
        const { mfa_challenge, otp, recovery_code } = request.body;
        const proof = secondFactorProofOf({ otp, recoveryCode: recovery_code });
        if (proof === undefined) throw new ValidationError([{ field: 'otp', message: 'exactly one of otp and recovery_code is required' }]);
        const { cookieValue, session, maxAgeSeconds } = await cookieMfaSignInOf(services, request, {
          challenge: mfa_challenge,
          proof,
          presentedCookie: presentedCookie(request),
        });
        return reply
          .headers({ 'cache-control': 'no-store', pragma: 'no-cache' })
          .header('set-cookie', serializeSessionCookie(issuer, cookieValue, maxAgeSeconds))
          .send({ session: { id: session.id, expires_at: session.expiresAt.toISOString() } });
      },
    );

    scope.delete(
      '/auth/session',
      {
        // Not the login throttle: an address locked out by failed sign-ins must still be able to
        // sign out. The per-address ceiling applies as on every route; a sign-out hashes nothing.
        config: { auth: PUBLIC },
        onRequest: crossSite,
        schema: {
          tags: ['auth'],
          summary: 'Browser sign-out: ends the cookie session, if any, and clears the cookie',
          response: { 204: z.void(), 403: problemSchema },
        },
      },
      async (request, reply) => {
        const value = presentedCookie(request);
        if (value !== undefined) await services.browserSessions.signOut(value, auditContextOf(request));
        request.log.info({ event: 'session.ended', had_cookie: value !== undefined }, 'browser signed out');
        return reply.code(204).headers({ 'cache-control': 'no-store' }).header('set-cookie', clearSessionCookie(issuer)).send();
      },
    );
  });
};
