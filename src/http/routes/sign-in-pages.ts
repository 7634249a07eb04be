import type { FastifyReply, FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { InvalidGrantError, InvalidRequestError, MfaRequiredError, PasswordPolicyError, UsernameTakenError, ValidationError } from '../../errors/errors.js';
import { PUBLIC } from '../../guard/requirement.js';
import type { GatehouseServices } from '../../services.js';
import { registerUser } from '../../users/registration.js';
import { auditContextOf, signInContextOf } from '../audit-context.js';
import { mailRegistrationConfirmation } from './email.js';
import { sendError } from '../error-handler.js';
import type { PageKit } from '../pages/page-kit.js';
import { sendSignInCodePage } from './second-factor-pages.js';

// Shapes and bounds only (the core's rules name the field); a repeated field is an array and fails here.
const returnToQuery = z.object({ return_to: z.string().max(4096).optional() }).strict();
const formFields = { _csrf: z.string().max(256).optional(), return_to: z.string().max(4096).optional() };
const loginForm = z.object({ ...formFields, username: z.string().max(256), password: z.string().max(4096), tenant: z.string().max(64).optional() }).strict();
const registerForm = z.object({ ...formFields, username: z.string().max(256), email: z.string().max(320).optional(), password: z.string().max(4096) }).strict();
const tokenOnlyForm = z.object({ _csrf: z.string().max(256).optional() }).strict();

const PAGE = { errorStyle: 'page' } as const;
/** The one message for every refused sign-in: which of user, password, state or tenant was wrong is never said. */
export const SIGN_IN_REFUSED = 'The username or password is not correct.';

/** Sign-in, registration and sign-out pages. */
export const signInPageRoutes: FastifyPluginAsyncZod<{ services: GatehouseServices; kit: PageKit }> = async (app, { services, kit }) => {
  const { config, browserSessions } = services;
  const mailOn = services.mailer.delivery !== 'off';
  const emailRequired = config.emailVerification === 'required';
  const returnToOf = (raw: string | undefined) => {
    const returnTo = kit.carried(raw);
    return returnTo === undefined ? {} : { returnTo };
  };

  /** Signs the browser in and sends it on: a new session (the one it came with ends), the cookie, 303. */
  const signIn = async (
    request: FastifyRequest,
    reply: FastifyReply,
    input: { username: string; password: string; tenant?: string | undefined },
    returnTo: string | undefined,
  ) => {
    const { cookieValue, session, maxAgeSeconds } = await browserSessions.signIn({
      ...input,
      ...signInContextOf(request),
      presentedCookie: kit.sessionCookieOf(request),
    });
    request.log.info({ event: 'session.created', user_id: session.userId, session_id: session.id }, 'browser signed in');
    return kit.setSessionCookie(reply, cookieValue, maxAgeSeconds).redirect(kit.target(returnTo), 303);
  };

  app.get('/login', { config: { auth: PUBLIC, ...PAGE }, schema: { hide: true, querystring: returnToQuery } }, async (request, reply) =>
    kit.send(kit.allowPasskeyScript(reply), 200, 'login', {
      csrfToken: kit.csrf.tokenFor(request, reply),
      mailOn,
      passkeyTarget: kit.target(request.query.return_to),
      ...returnToOf(request.query.return_to),
    }),
  );

  app.post(
    '/login',
    {
      config: { auth: PUBLIC, throttle: 'login', ...PAGE },
      schema: { hide: true, body: loginForm },
      onRequest: kit.refuseCrossSite,
      preHandler: kit.checkForm,
      // A refused sign-in is thrown (so the login throttle counts it, in its onError hook) and
      // answered here with the form again; everything else is the usual error page.
      errorHandler(error, request, reply): void {
        if (!(error instanceof InvalidGrantError || error instanceof InvalidRequestError)) {
          sendError(request, reply, error);
          return;
        }
        const body = request.body as z.infer<typeof loginForm> | undefined;
        request.log.info({ err_code: error.code, reason: error.logReason, status: 401 }, 'sign-in refused');
        kit.send(kit.allowPasskeyScript(reply), 401, 'login', {
          csrfToken: kit.csrf.tokenFor(request, reply),
          error: SIGN_IN_REFUSED,
          mailOn,
          // What was typed, except the password.
          ...(body?.username === undefined ? {} : { username: body.username }),
          ...(body?.tenant === undefined ? {} : { tenant: body.tenant }),
          ...returnToOf(body?.return_to),
        });
      },
    },
    async (request, reply) => {
      const { username, password, tenant, return_to } = request.body;
      try {
        // The form always sends the optional field; empty means none.
        return await signIn(request, reply, { username, password, tenant: tenant === '' ? undefined : tenant }, return_to);
      } catch (error) {
        if (!(error instanceof MfaRequiredError)) throw error;
        // The password was right; the code step comes next, on its own page, with no cookie yet.
        request.log.info({ event: 'mfa.challenged' }, 'sign-in needs the second factor');
        return sendSignInCodePage(kit, request, reply, 200, { challenge: error.challenge, returnTo: return_to });
      }
    },
  );

  app.get('/register', { config: { auth: PUBLIC, ...PAGE }, schema: { hide: true, querystring: returnToQuery } }, async (request, reply) =>
    kit.send(reply, 200, 'register', {
      csrfToken: kit.csrf.tokenFor(request, reply),
      passwordMinLength: config.passwordMinLength,
      emailRequired,
      ...returnToOf(request.query.return_to),
    }),
  );

  app.post(
    '/register',
    {
      config: { auth: PUBLIC, throttle: 'register', ...PAGE },
      schema: { hide: true, body: registerForm },
      onRequest: kit.refuseCrossSite,
      preHandler: kit.checkForm,
    },
    async (request, reply) => {
      const { username, password, return_to } = request.body;
      // The form always sends the optional field; empty means none.
      const email = request.body.email === '' ? undefined : request.body.email;
      try {
        const user = await registerUser(
          { users: services.users, hasher: services.hasher, passwordMinLength: config.passwordMinLength, requireEmail: emailRequired },
          { username, password, email },
          auditContextOf(request),
        );
        request.log.info({ event: 'user.registered', user_id: user.id }, 'user registered');
        mailRegistrationConfirmation(services, user, auditContextOf(request));
      } catch (error) {
        const fieldErrors = registrationFieldErrors(error);
        if (fieldErrors === undefined) throw error;
        // The form again, with what was typed except the password.
        return kit.send(reply, error instanceof UsernameTakenError ? 409 : 400, 'register', {
          csrfToken: kit.csrf.tokenFor(request, reply),
          passwordMinLength: config.passwordMinLength,
          emailRequired,
          username,
          ...(email === undefined ? {} : { email }),
          fieldErrors,
          ...returnToOf(return_to),
        });
      }
      // Sign-in waits for the confirmation: say where the link went instead of a refused sign-in.
      if (emailRequired)
        return kit.send(reply, 201, 'login', {
          csrfToken: kit.csrf.tokenFor(request, reply),
          mailOn,
          username,
          notice: 'Account created. Open the link we mailed to your address to confirm it, then sign in.',
          ...returnToOf(return_to),
        });
      return signIn(request, reply, { username, password }, return_to);
    },
  );

  app.get('/logout', { config: { auth: PUBLIC, ...PAGE }, schema: { hide: true } }, async (request, reply) =>
    kit.send(reply, 200, 'logout', { csrfToken: kit.csrf.tokenFor(request, reply) }),
  );

  // Public like DELETE /auth/session: it ends only the session whose cookie (id and secret) it carries.
  app.post(
    '/logout',
    { config: { auth: PUBLIC, ...PAGE }, schema: { hide: true, body: tokenOnlyForm }, onRequest: kit.refuseCrossSite, preHandler: kit.checkForm },
    async (request, reply) => {
      const value = kit.sessionCookieOf(request);
      if (value !== undefined) await browserSessions.signOut(value, auditContextOf(request));
      request.log.info({ event: 'session.ended', had_cookie: value !== undefined }, 'browser signed out');
      return kit.clearSessionCookie(reply).redirect('/login', 303);
    },
  );
};

/** Which field a refused registration names, in words for the form; undefined: not a form problem. */
function registrationFieldErrors(error: unknown): { username?: string; email?: string; password?: string } | undefined {
  if (error instanceof UsernameTakenError) return { username: 'This username is taken.' };
  if (error instanceof PasswordPolicyError) return { password: `Password not accepted: ${error.message}.` };
  if (error instanceof ValidationError) {
    const out: { username?: string; email?: string; password?: string } = {};
    for (const issue of error.issues) {
      if (issue.field === 'username' || issue.field === 'email' || issue.field === 'password') out[issue.field] = issue.message;
    }
    return out;
  }
  return undefined;
}
