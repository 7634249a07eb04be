import type { FastifyReply, FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncZod, ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { PUBLIC } from '../../guard/requirement.js';
import { issueTokens, MFA_GRANT, type TokenRequestParams } from '../../oauth/token-request.js';
import { identifyClient } from '../../oauth/client-identification.js';
import { trustedOrigins } from '../../guard/trusted-origins.js';
import { deliverTokens, refreshTokenOfRequest, serializeRefreshCookie } from '../../sessions/refresh-cookie.js';
import { requestFactsOf } from '../request-facts.js';
import { signInContextOf } from '../audit-context.js';
import { basicCredentials } from '../client-credentials.js';
import type { GatehouseServices } from '../../services.js';
import { registerStrictFormParser, requireFormBody } from '../body-parsers.js';
import { oauthErrorSchema, problemSchema } from './problem-schema.js';

export const tokenResponseSchema = z.object({
  access_token: z.string(),
  token_type: z.literal('Bearer'),
  expires_in: z.number().int(),
  scope: z.string(),
  refresh_token: z
    .string()
    .optional()
    .describe(
      'absent for client_credentials (a service account authenticates again instead) and for a client in refresh-cookie mode (it is then the Set-Cookie)',
    ),
});

// RFC 6749 §3.2: unknown parameters are ignored, so the object is loose; the pipeline checks values.
const formBody = z.looseObject({
  grant_type: z.string().max(64).optional(),
  username: z.string().max(256).optional(),
  password: z.string().max(4096).optional(),
  scope: z.string().max(1024).optional(),
  client_id: z.string().max(128).optional(),
  // client_secret_post of a service account (an API key); the Basic header is the other method, never both.
  client_secret: z.string().max(256).optional(),
  // Long enough for an access token pasted by mistake: it must get invalid_grant like any dead token.
  refresh_token: z.string().max(8192).optional(),
  // RFC 8707 §2: an absolute URI. Repeats reach the pipeline as an array, which answers invalid_target.
  resource: z.union([z.string().max(2048), z.array(z.string().max(2048)).max(8)]).optional(),
  // The MFA grant (MFA_GRANT): the challenge of the password step and one code.
  mfa_challenge: z.string().max(128).optional(),
  otp: z.string().max(16).optional(),
  recovery_code: z.string().max(64).optional(),
});

const resource = z.string().max(2048).optional();
const clientId = z.string().max(128).optional();
const loginBody = z
  .object({ username: z.string().max(256), password: z.string().max(4096), tenant: z.string().max(64).optional(), resource, client_id: clientId })
  .strict();
const mfaLoginBody = z
  .object({
    mfa_challenge: z.string().max(128).describe('from the 403 ERR_MFA_REQUIRED answer of the password step'),
    otp: z.string().max(16).optional().describe('the code of the authenticator app'),
    recovery_code: z.string().max(64).optional().describe('or one recovery code'),
    client_id: clientId,
  })
  .strict();
// refresh_token: absent when a cookie-mode client's cookie carries it.
const refreshBody = z.object({ refresh_token: z.string().max(8192).optional(), resource, client_id: clientId }).strict();
/** The JSON endpoints' optional fields, as form parameters: present only when given. */
const given = (fields: Record<string, string | undefined>): Record<string, string> =>
  Object.fromEntries(Object.entries(fields).filter((entry): entry is [string, string] => entry[1] !== undefined));

export const tokenRoutes: FastifyPluginAsyncZod<{ services: GatehouseServices }> = async (app, { services }) => {
  const deps = services.tokenRequestDeps({
    onSecurityEvent: (event) => {
      if (event.event === 'refresh_token.reuse_detected') services.metrics.refresh('reuse_detected');
      app.log.warn({ security_event: event.event, session_id: event.sessionId, user_id: event.userId, client_id: event.clientId }, 'security event');
    },
    onRehashFailed: (error) => app.log.warn({ err: error }, 'password rehash failed'),
  });
  const { issuer } = services.config;
  const trusted = trustedOrigins(services.config);
  /** Issues, then sends the tokens: a cookie-mode client gets its refresh token as the cookie, not in the body. */
  const answer = async (request: FastifyRequest, reply: FastifyReply, params: TokenRequestParams, basic?: ReturnType<typeof basicCredentials>) => {
    const { response, client } = await issueTokens(deps, params, basic, signInContextOf(request));
    const { body, cookieToken } = deliverTokens(client, response);
    reply.headers({ 'cache-control': 'no-store', pragma: 'no-cache' });
    if (cookieToken !== undefined) reply.header('set-cookie', serializeRefreshCookie(issuer, cookieToken, services.config.sessionTtlSeconds));
    return reply.send(body);
  };

  // The form parser lives in this scope only: /auth/token is the one endpoint that takes form bodies.
  await app.register(async (formScope) => {
    registerStrictFormParser(formScope);
    formScope.withTypeProvider<ZodTypeProvider>().post(
      '/auth/token',
      {
        config: { auth: PUBLIC, errorStyle: 'oauth', throttle: 'token' },
        schema: {
          tags: ['auth'],
          summary: 'OAuth 2 token endpoint (password RFC 6749 §4.3, refresh_token §6, client_credentials §4.4, the MFA grant)',
          description: `client_credentials: a service account is a confidential client, \`client_id\` its id and \`client_secret\` one of its API keys, by \`client_secret_basic\` or \`client_secret_post\` (never both). The answer has no refresh token.

password, for an account with a second factor: 403 \`{"error":"mfa_required","mfa_challenge":"ghm_…","expires_in":300}\` and no token. The factor step is \`grant_type=${MFA_GRANT}\` with \`mfa_challenge\` and \`otp\` (the authenticator app's code) or \`recovery_code\`, from the same client: it answers what the password step asked for (scope, tenant, resource). The challenge is single use; a wrong code leaves it 4 more tries; any other refusal, a password change or a log-out-everywhere meanwhile spends it (400 invalid_grant, whatever failed).`,
          consumes: ['application/x-www-form-urlencoded'],
          body: formBody,
          response: { 200: tokenResponseSchema, 400: oauthErrorSchema, 401: oauthErrorSchema, 403: oauthErrorSchema },
        },
      },
      async (request, reply) => {
        requireFormBody(request.headers['content-type'], 'token');
        const sent = await answer(request, reply, request.body as Record<string, string>, basicCredentials(request.raw.rawHeaders));
        request.log.info({ event: 'token.issued', grant_type: (request.body as { grant_type?: string }).grant_type }, 'token issued');
        return sent;
      },
    );
  });

  app.post(
    '/auth/login',
    {
      config: { auth: PUBLIC, throttle: 'login' },
      schema: {
        tags: ['auth'],
        summary: 'JSON login for first-party apps (same result as the password grant)',
        description:
          'For an account with a second factor: 403 ERR_MFA_REQUIRED with `mfa_challenge` and `expires_in`, and no token; `POST /auth/login/mfa` finishes the sign-in.',
        body: loginBody,
        response: { 200: tokenResponseSchema, 400: problemSchema, 401: problemSchema, 403: problemSchema },
      },
    },
    async (request, reply) => {
      const { username, password, tenant, resource: target, client_id } = request.body;
      const params = { grant_type: 'password', username, password, ...given({ tenant, resource: target, client_id }) };
      const sent = await answer(request, reply, params);
      request.log.info({ event: 'login.succeeded', grant_type: 'json' }, 'token issued');
      return sent;
    },
  );

  app.post(
    '/auth/login/mfa',
    {
      config: { auth: PUBLIC },
      schema: {
        tags: ['auth'],
        summary: 'JSON login, second step: the MFA challenge and a code → the tokens (same as the MFA grant)',
        description:
          'Exactly one of `otp` and `recovery_code`. The challenge is single use and bound to the client of the password step; a wrong code leaves it 4 more tries, and counts against GATEHOUSE_LIMIT_OTP_USER (429 past it). Every refusal is the same 401, whatever failed.',
        body: mfaLoginBody,
        response: { 200: tokenResponseSchema, 400: problemSchema, 401: problemSchema, 429: problemSchema },
      },
    },
    async (request, reply) => {
      const { mfa_challenge, otp, recovery_code, client_id } = request.body;
      const sent = await answer(request, reply, { grant_type: MFA_GRANT, mfa_challenge, ...given({ otp, recovery_code, client_id }) });
      request.log.info({ event: 'login.succeeded', grant_type: 'json_mfa' }, 'token issued');
      return sent;
    },
  );

  app.post(
    '/auth/refresh',
    {
      // Speaks RFC 6749 §5.2 like the token endpoint: a bad refresh token is 400 invalid_grant on both.
      config: { auth: PUBLIC, errorStyle: 'oauth', throttle: 'refresh' },
      schema: {
        tags: ['auth'],
        summary: 'Rotate a refresh token (JSON; same as grant_type=refresh_token)',
        description:
          'The refresh token comes from the body, or, for a client in cookie mode (`client_id` names it), from the HttpOnly refresh cookie; both at once is 400 invalid_request. A request carrying the cookie must pass the CSRF layers (Sec-Fetch-Site, else Origin/Referer): 403 otherwise, and nothing is spent.',
        body: refreshBody,
        response: { 200: tokenResponseSchema, 400: oauthErrorSchema, 401: oauthErrorSchema, 403: oauthErrorSchema },
      },
    },
    async (request, reply) => {
      const { refresh_token, resource: target, client_id } = request.body;
      const client = identifyClient(services.clients, given({ client_id }), undefined);
      const token = refreshTokenOfRequest(requestFactsOf(request), client, refresh_token, issuer, trusted);
      const sent = await answer(request, reply, { grant_type: 'refresh_token', refresh_token: token, ...given({ resource: target, client_id }) });
      request.log.info({ event: 'refresh.succeeded' }, 'token refreshed');
      return sent;
    },
  );
};
