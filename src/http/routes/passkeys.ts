import type { AuthenticationResponseJSON, RegistrationResponseJSON } from '@simplewebauthn/server';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { PUBLIC } from '../../guard/requirement.js';
import { CHANGES_FACTORS, FACTOR_CHANGE_NOTE, SIGNED_IN } from './factor-change-routes.js';
import { trustedOrigins } from '../../guard/trusted-origins.js';
import { issueTokensForSignIn } from '../../oauth/token-request.js';
import { PASSKEY_METHODS } from '../../passkeys/passkey-sign-in.js';
import type { PasskeyRecord } from '../../passkeys/passkey-store.js';
import type { GatehouseServices } from '../../services.js';
import { deliverTokens, serializeRefreshCookie } from '../../sessions/refresh-cookie.js';
import { readSessionCookie, serializeSessionCookie, sessionCookieName } from '../../sessions/session-cookie.js';
import { auditContextOf, signInContextOf } from '../audit-context.js';
import { refuseCrossSite } from '../cross-site.js';
import { requestFactsOf } from '../request-facts.js';
import { problemSchema } from './problem-schema.js';
import { tokenResponseSchema } from './token.js';

/** Base64url as WebAuthn's JSON serialization writes binary fields (no padding). */
const base64url = (max: number) =>
  z
    .string()
    .max(max)
    .regex(/^[A-Za-z0-9_-]*$/, 'must be base64url');
const clientExtensionResults = z.record(z.string().max(64), z.unknown()).describe('`getClientExtensionResults()`; not read');
const attachment = z.enum(['platform', 'cross-platform']).optional();

// WebAuthn Level 3 `PublicKeyCredential.toJSON()`: fields beyond these are dropped, not refused.
const registrationResponse = z.object({
  id: base64url(1024),
  rawId: base64url(1024),
  type: z.literal('public-key'),
  response: z.object({
    clientDataJSON: base64url(4096),
    attestationObject: base64url(12_000),
    authenticatorData: base64url(12_000).optional(),
    transports: z.array(z.string().max(32)).max(8).optional(),
    publicKeyAlgorithm: z.number().int().optional(),
    publicKey: base64url(4096).optional(),
  }),
  authenticatorAttachment: attachment,
  clientExtensionResults,
});
const authenticationResponse = z.object({
  id: base64url(1024),
  rawId: base64url(1024),
  type: z.literal('public-key'),
  response: z.object({
    clientDataJSON: base64url(4096),
    authenticatorData: base64url(4096),
    signature: base64url(2048),
    userHandle: base64url(256).optional(),
  }),
  authenticatorAttachment: attachment,
  clientExtensionResults,
});

const credentialDescriptor = z.object({ id: z.string(), type: z.string().describe('public-key'), transports: z.array(z.string()).optional() });
// What @simplewebauthn/server generates, for navigator.credentials as is (PublicKeyCredential.parse…OptionsFromJSON).
const creationOptions = z.object({
  challenge: z.string(),
  rp: z.object({ id: z.string().optional(), name: z.string() }),
  user: z.object({ id: z.string(), name: z.string(), displayName: z.string() }),
  pubKeyCredParams: z.array(z.object({ alg: z.number().int(), type: z.literal('public-key') })),
  timeout: z.number().int().optional(),
  excludeCredentials: z.array(credentialDescriptor).optional(),
  authenticatorSelection: z
    .object({
      authenticatorAttachment: z.enum(['platform', 'cross-platform']).optional(),
      residentKey: z.enum(['discouraged', 'preferred', 'required']).optional(),
      requireResidentKey: z.boolean().optional(),
      userVerification: z.enum(['discouraged', 'preferred', 'required']).optional(),
    })
    .optional(),
  attestation: z.enum(['none', 'indirect', 'direct', 'enterprise']).optional(),
  extensions: z.object({ credProps: z.boolean().optional() }).optional(),
  hints: z.array(z.string()).optional(),
});
const requestOptions = z.object({
  challenge: z.string(),
  rpId: z.string().optional(),
  timeout: z.number().int().optional(),
  userVerification: z.enum(['discouraged', 'preferred', 'required']).optional(),
  allowCredentials: z.array(credentialDescriptor).optional(),
});

const passkeyView = z.object({
  id: z.uuid(),
  label: z.string(),
  created_at: z.iso.datetime(),
  last_used_at: z.iso.datetime().nullable(),
  device_type: z.enum(['singleDevice', 'multiDevice']).describe('multiDevice: a synced passkey'),
  backed_up: z.boolean(),
  transports: z.array(z.string()),
});
const emptyBody = z.object({}).strict().optional();
const registerBody = z.object({ response: registrationResponse, label: z.string().max(64).optional() }).strict();
const verifyBody = z
  .object({
    response: authenticationResponse,
    mode: z.enum(['tokens', 'cookie']).optional().describe('`cookie`: a browser cookie session (Set-Cookie) instead of tokens; default `tokens`'),
    tenant: z.string().max(64).optional(),
    resource: z.string().max(2048).optional(),
    client_id: z.string().max(128).optional(),
  })
  .strict();
const signedInSchema = z.object({ session: z.object({ id: z.uuid(), expires_at: z.iso.datetime() }) });

const viewOf = (p: PasskeyRecord): z.infer<typeof passkeyView> => ({
  id: p.id,
  label: p.label,
  created_at: p.createdAt.toISOString(),
  last_used_at: p.lastUsedAt?.toISOString() ?? null,
  device_type: p.deviceType,
  backed_up: p.backedUp,
  transports: [...p.transports],
});

/** Present only when given: the token pipeline's parameters. */
const given = (fields: Record<string, string | undefined>): Record<string, string> =>
  Object.fromEntries(Object.entries(fields).filter((entry): entry is [string, string] => entry[1] !== undefined));

/**
 * Passkeys (src/passkeys): registering and removing one's own (`/me/passkeys`), and signing in with
 * one (`/auth/passkeys`) for tokens, as the password grant answers, or for a browser cookie session.
 */
export const passkeyRoutes: FastifyPluginAsyncZod<{ services: GatehouseServices }> = async (app, { services }) => {
  const { passkeys, config } = services;
  const { issuer } = config;
  const cookieName = sessionCookieName(issuer);
  const crossSite = refuseCrossSite(trustedOrigins(config));
  const tokenDeps = services.tokenRequestDeps({
    onSecurityEvent: (event) => app.log.warn({ security_event: event.event, session_id: event.sessionId, user_id: event.userId }, 'security event'),
    onRehashFailed: () => undefined,
  });

  app.get(
    '/me/passkeys',
    {
      config: { auth: SIGNED_IN },
      schema: { tags: ['me'], summary: 'Your passkeys, oldest first', response: { 200: z.array(passkeyView), 401: problemSchema, 403: problemSchema } },
    },
    async (request, reply) => {
      reply.header('cache-control', 'no-store');
      return (await passkeys.list(request.principal!.subject)).map(viewOf);
    },
  );

  app.post(
    '/me/passkeys/options',
    {
      config: { auth: CHANGES_FACTORS },
      schema: {
        tags: ['me'],
        summary: 'Start registering a passkey: options for navigator.credentials.create()',
        description: `A discoverable credential with user verification for RP ID \`${passkeys.relyingParty.id}\`, your passkeys excluded. The challenge is single use, good for 5 minutes, and only for \`POST /me/passkeys\` by you.${FACTOR_CHANGE_NOTE}`,
        body: emptyBody,
        response: { 200: creationOptions, 400: problemSchema, 401: problemSchema, 403: problemSchema },
      },
    },
    async (request, reply) => {
      const { user } = request.principal!;
      reply.header('cache-control', 'no-store');
      return passkeys.registrationOptions({ id: user.id, username: user.username });
    },
  );

  app.post(
    '/me/passkeys',
    {
      config: { auth: CHANGES_FACTORS },
      schema: {
        tags: ['me'],
        summary: 'Finish registering a passkey: the credential navigator.credentials.create() returned',
        description: FACTOR_CHANGE_NOTE.trim(),
        body: registerBody,
        response: { 201: passkeyView, 400: problemSchema, 401: problemSchema, 403: problemSchema },
      },
    },
    async (request, reply) => {
      const principal = request.principal!;
      const { response, label } = request.body;
      const passkey = await passkeys.register(principal.subject, { response: response as RegistrationResponseJSON, label }, auditContextOf(request));
      request.log.info({ event: 'passkey.registered', user_id: principal.subject, passkey_id: passkey.id }, 'passkey registered');
      return reply.code(201).header('cache-control', 'no-store').send(viewOf(passkey));
    },
  );

  app.delete(
    '/me/passkeys/:id',
    {
      config: { auth: CHANGES_FACTORS },
      schema: {
        tags: ['me'],
        summary: 'Remove one of your passkeys',
        description: FACTOR_CHANGE_NOTE.trim(),
        params: z.object({ id: z.string().max(64) }),
        response: { 204: z.void(), 401: problemSchema, 403: problemSchema, 404: problemSchema },
      },
    },
    async (request, reply) => {
      const principal = request.principal!;
      await passkeys.remove(principal.subject, request.params.id, auditContextOf(request));
      request.log.info({ event: 'passkey.removed', user_id: principal.subject, passkey_id: request.params.id }, 'passkey removed');
      return reply.code(204).send();
    },
  );

  app.post(
    '/auth/passkeys/options',
    {
      config: { auth: PUBLIC, throttle: 'passkey_options' },
      schema: {
        tags: ['auth'],
        summary: 'Start a passkey sign-in: options for navigator.credentials.get()',
        description:
          'No username: the authenticator offers its passkeys for this site. The challenge is single use, good for 5 minutes, and only for `POST /auth/passkeys/verify`.',
        body: emptyBody,
        response: { 200: requestOptions, 400: problemSchema, 429: problemSchema },
      },
    },
    async (_request, reply) => {
      reply.header('cache-control', 'no-store');
      return passkeys.signInOptions();
    },
  );

  app.post(
    '/auth/passkeys/verify',
    {
      config: { auth: PUBLIC, throttle: 'login' },
      // Login CSRF: another site must not sign a browser in to an account of its choosing.
      onRequest: crossSite,
      schema: {
        tags: ['auth'],
        summary: 'Finish a passkey sign-in: tokens (as the password grant answers) or, `mode: "cookie"`, a browser session',
        description:
          'The session counts as two factors (`amr` `["hwk","user"]`): the passkey and the user verification it did. An unknown passkey, a used challenge, a failed check and a disabled account all read as a wrong password.',
        body: verifyBody,
        response: { 200: z.union([tokenResponseSchema, signedInSchema]), 400: problemSchema, 401: problemSchema, 403: problemSchema },
      },
    },
    async (request, reply) => {
      const { response, mode, tenant, resource, client_id } = request.body;
      const context = signInContextOf(request);
      const { audit } = context;
      const proof = { methods: PASSKEY_METHODS, authenticate: async () => (await passkeys.verifySignIn(response as AuthenticationResponseJSON, audit)).user };
      reply.headers({ 'cache-control': 'no-store', pragma: 'no-cache' });
      if (mode === 'cookie') {
        const presented = readSessionCookie(requestFactsOf(request).header('cookie'), cookieName);
        const { cookieValue, session, maxAgeSeconds } = await services.browserSessions.signInProven({
          ...proof,
          tenant,
          ...context,
          presentedCookie: presented === 'malformed' ? undefined : presented,
        });
        request.log.info({ event: 'session.created', user_id: session.userId, session_id: session.id, via: 'passkey' }, 'browser signed in');
        return reply
          .header('set-cookie', serializeSessionCookie(issuer, cookieValue, maxAgeSeconds))
          .send({ session: { id: session.id, expires_at: session.expiresAt.toISOString() } });
      }
      const { response: tokens, client } = await issueTokensForSignIn(tokenDeps, given({ tenant, resource, client_id }), proof, context);
      const { body, cookieToken } = deliverTokens(client, tokens);
      if (cookieToken !== undefined) reply.header('set-cookie', serializeRefreshCookie(issuer, cookieToken, config.sessionTtlSeconds));
      request.log.info({ event: 'login.succeeded', grant_type: 'passkey' }, 'token issued');
      return reply.send(body);
    },
  );
};
