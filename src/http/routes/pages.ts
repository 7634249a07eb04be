import fastifyCookie from '@fastify/cookie';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { CsrfError, PasswordPolicyError, UsernameTakenError, ValidationError } from '../../errors/errors.js';
import { assertNotCrossSite } from '../../guard/csrf-layers.js';
import { trustedOrigins } from '../../guard/trusted-origins.js';
import { PUBLIC } from '../../guard/requirement.js';
import { createPageRenderer, type PageData, type PageName } from '../../pages/page-renderer.js';
import { safeReturnTo } from '../../pages/return-to.js';
import type { GatehouseServices } from '../../services.js';
import { registerUser } from '../../users/registration.js';
import { auditContextOf } from '../audit-context.js';
import { registerStrictFormParser, requireFormBody } from '../body-parsers.js';
import { csrfFactsOf } from '../csrf-facts.js';
import { registerPageAssets } from '../pages/assets.js';
import { createPageCsrf } from '../pages/csrf.js';
import { pageHeaders, registerPageHeaders } from '../pages/headers.js';

// Shapes and bounds only (the core's rules name the field); a repeated field is an array and fails here.
const returnToQuery = z.object({ return_to: z.string().max(4096).optional() }).strict();
const formFields = { _csrf: z.string().max(256).optional(), return_to: z.string().max(4096).optional() };
const registerForm = z.object({ ...formFields, username: z.string().max(256), password: z.string().max(4096) }).strict();

const PAGE = { errorStyle: 'page' } as const;

/**
 * The hosted pages (/login, /register, /account, /logout): server-rendered HTML forms that work
 * without JavaScript. In their own scope: cookies parsed, form bodies accepted, the page headers
 * (headers.ts), errors as pages (`errorStyle: 'page'`), and every POST checked for a cross-site
 * origin and the synchronizer token before its handler runs.
 */
export const pageRoutes: FastifyPluginAsyncZod<{ services: GatehouseServices }> = async (app, { services }) => {
  const { config } = services;
  const trust = trustedOrigins(config);
  const renderer = createPageRenderer();
  const csrf = createPageCsrf(config.issuer);

  await app.register(fastifyCookie);
  registerStrictFormParser(app);
  registerPageHeaders(app, pageHeaders(config.allowedOrigins));
  registerPageAssets(app);

  /**
   * preHandler of every page POST, signed in or not (login CSRF): the cross-site layers 1–2
   * (guard/csrf-layers.ts), form bodies only, then layer 3, the synchronizer token.
   */
  const checkForm = async (request: FastifyRequest) => {
    assertNotCrossSite(csrfFactsOf(request, false), trust);
    requireFormBody(request.headers['content-type'], 'page');
    const refusal = csrf.refusalOf(request);
    if (refusal !== undefined) throw new CsrfError('synchronizer-token', refusal);
  };
  const send = <P extends PageName>(reply: FastifyReply, status: number, page: P, data: PageData[P]) =>
    reply.code(status).type('text/html; charset=utf-8').send(renderer.render(page, data));
  /** A return_to that passed the check, to carry through a form; an unsafe one is dropped. */
  const carried = (raw: string | undefined) => (raw === undefined ? undefined : safeReturnTo(raw, trust));

  app.get('/login', { config: { auth: PUBLIC, ...PAGE }, schema: { hide: true, querystring: returnToQuery } }, async (request, reply) => {
    const returnTo = carried(request.query.return_to);
    return send(reply, 200, 'login', { csrfToken: csrf.tokenFor(request, reply), ...(returnTo === undefined ? {} : { returnTo }) });
  });

  app.get('/register', { config: { auth: PUBLIC, ...PAGE }, schema: { hide: true, querystring: returnToQuery } }, async (request, reply) => {
    const returnTo = carried(request.query.return_to);
    return send(reply, 200, 'register', { csrfToken: csrf.tokenFor(request, reply), ...(returnTo === undefined ? {} : { returnTo }) });
  });

  app.post(
    '/register',
    { config: { auth: PUBLIC, throttle: 'register', ...PAGE }, schema: { hide: true, body: registerForm }, preHandler: checkForm },
    async (request, reply) => {
      const { username, password } = request.body;
      const returnTo = carried(request.body.return_to);
      try {
        const user = await registerUser(
          { users: services.users, hasher: services.hasher, passwordMinLength: config.passwordMinLength },
          { username, password },
          auditContextOf(request),
        );
        request.log.info({ event: 'user.registered', user_id: user.id }, 'user registered');
      } catch (error) {
        const fieldErrors = registrationFieldErrors(error);
        if (fieldErrors === undefined) throw error;
        // The form again, with what was typed except the password.
        return send(reply, error instanceof UsernameTakenError ? 409 : 400, 'register', {
          csrfToken: csrf.tokenFor(request, reply),
          username,
          fieldErrors,
          ...(returnTo === undefined ? {} : { returnTo }),
        });
      }
      // TODO(merge h/sessions): sign in with BrowserSessions.signIn and 303 to the return_to.
      return reply.redirect(`/login${returnTo === undefined ? '' : `?return_to=${encodeURIComponent(returnTo)}`}`, 303);
    },
  );

  app.get('/logout', { config: { auth: PUBLIC, ...PAGE }, schema: { hide: true } }, async (request, reply) =>
    send(reply, 200, 'logout', { csrfToken: csrf.tokenFor(request, reply) }),
  );
};

/** Which field a refused registration names, in words for the form; undefined: not a form problem. */
function registrationFieldErrors(error: unknown): { username?: string; password?: string } | undefined {
  if (error instanceof UsernameTakenError) return { username: 'This username is taken.' };
  if (error instanceof PasswordPolicyError) return { password: `Password not accepted: ${error.message}.` };
  if (error instanceof ValidationError) {
    const out: { username?: string; password?: string } = {};
    for (const issue of error.issues) {
      if (issue.field === 'username' || issue.field === 'password') out[issue.field] = issue.message;
    }
    return out;
  }
  return undefined;
}
