import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { confirmEmail } from '../../email/email-confirmation.js';
import { EmailTakenError, InvalidCodeError, PasswordPolicyError } from '../../errors/errors.js';
import { PUBLIC } from '../../guard/requirement.js';
import { completePasswordReset, mailPasswordReset } from '../../recovery/password-reset.js';
import type { GatehouseServices } from '../../services.js';
import { auditContextOf } from '../audit-context.js';
import type { PageKit } from '../pages/page-kit.js';
import { emailConfirmationDeps } from './email.js';
import { assertMailOn, passwordResetDeps, RESET_REQUESTED, usernameField } from './password-reset.js';

const PAGE = { errorStyle: 'page' } as const;
const csrfField = { _csrf: z.string().max(256).optional() };
const codeQuery = z.object({ code: z.string().max(128).optional() }).strict();
const forgotForm = z.object({ ...csrfField, account: usernameField }).strict();
const resetForm = z.object({ ...csrfField, code: z.string().max(128), new_password: z.string().max(4096) }).strict();
const confirmForm = z.object({ ...csrfField, code: z.string().max(128) }).strict();

const DEAD_LINK = 'This link is invalid, already used or expired. Ask for a new one.';

/**
 * /forgot-password, /reset-password and /confirm-email: the mailed links' pages, over the same use
 * cases as the API. Every POST passes the CSRF layers and the synchronizer token like the other
 * forms; a GET only shows a form (a mail scanner that follows the link changes nothing). The pages
 * answer 404 when mail is off.
 */
export const recoveryPageRoutes: FastifyPluginAsyncZod<{ services: GatehouseServices; kit: PageKit }> = async (app, { services, kit }) => {
  const resetDeps = passwordResetDeps(services);
  const confirmDeps = emailConfirmationDeps(services);
  const minLength = services.config.passwordMinLength;

  app.get('/forgot-password', { config: { auth: PUBLIC, ...PAGE }, schema: { hide: true } }, async (request, reply) => {
    assertMailOn(services);
    return kit.send(reply, 200, 'forgot-password', { csrfToken: kit.csrf.tokenFor(request, reply) });
  });

  app.post(
    '/forgot-password',
    {
      config: { auth: PUBLIC, throttle: 'mail_request', ...PAGE },
      schema: { hide: true, body: forgotForm },
      onRequest: kit.refuseCrossSite,
      preHandler: kit.checkForm,
    },
    async (request, reply) => {
      assertMailOn(services);
      const { account } = request.body;
      // Usernames never hold "@" (src/users/username.ts): one field serves both.
      const who = account.includes('@') ? { email: account } : { username: account };
      const audit = auditContextOf(request);
      services.backgroundWork.run('password_reset.mail', async () => {
        const outcome = await mailPasswordReset(resetDeps, who, audit);
        request.log.info({ event: 'password_reset.requested', outcome }, 'password reset requested');
      });
      return kit.send(reply, 200, 'forgot-password', { csrfToken: kit.csrf.tokenFor(request, reply), notice: RESET_REQUESTED.message });
    },
  );

  app.get('/reset-password', { config: { auth: PUBLIC, ...PAGE }, schema: { hide: true, querystring: codeQuery } }, async (request, reply) => {
    assertMailOn(services);
    // The code is in this page's URL: no Referer carries it anywhere, not even to our stylesheet.
    reply.header('referrer-policy', 'no-referrer');
    const { code } = request.query;
    return kit.send(reply, 200, 'reset-password', {
      csrfToken: kit.csrf.tokenFor(request, reply),
      passwordMinLength: minLength,
      ...(code === undefined || code === '' ? { error: DEAD_LINK } : { code }),
    });
  });

  app.post(
    '/reset-password',
    { config: { auth: PUBLIC, ...PAGE }, schema: { hide: true, body: resetForm }, onRequest: kit.refuseCrossSite, preHandler: kit.checkForm },
    async (request, reply) => {
      assertMailOn(services);
      const { code, new_password } = request.body;
      const csrfToken = kit.csrf.tokenFor(request, reply);
      try {
        const done = await completePasswordReset(resetDeps, { code, newPassword: new_password }, auditContextOf(request));
        request.log.info({ event: 'password_reset.completed', user_id: done.userId, sessions_revoked: done.sessionsRevoked }, 'password reset');
      } catch (error) {
        if (error instanceof InvalidCodeError) return kit.send(reply, 400, 'reset-password', { csrfToken, passwordMinLength: minLength, error: DEAD_LINK });
        // The form again with the same code: a refused password does not spend it.
        if (error instanceof PasswordPolicyError)
          return kit.send(reply, 400, 'reset-password', { csrfToken, passwordMinLength: minLength, code, error: `Password not accepted: ${error.message}.` });
        throw error;
      }
      // This browser's own session ended with the others: its cookie is no use any more.
      kit.clearSessionCookie(reply);
      return kit.send(reply, 200, 'reset-password', { csrfToken, passwordMinLength: minLength, done: true });
    },
  );

  app.get('/confirm-email', { config: { auth: PUBLIC, ...PAGE }, schema: { hide: true, querystring: codeQuery } }, async (request, reply) => {
    assertMailOn(services);
    reply.header('referrer-policy', 'no-referrer');
    const { code } = request.query;
    return kit.send(reply, 200, 'confirm-email', {
      csrfToken: kit.csrf.tokenFor(request, reply),
      ...(code === undefined || code === '' ? { error: DEAD_LINK } : { code }),
    });
  });

  app.post(
    '/confirm-email',
    { config: { auth: PUBLIC, ...PAGE }, schema: { hide: true, body: confirmForm }, onRequest: kit.refuseCrossSite, preHandler: kit.checkForm },
    async (request, reply) => {
      assertMailOn(services);
      const csrfToken = kit.csrf.tokenFor(request, reply);
      try {
        const { userId } = await confirmEmail(confirmDeps, request.body.code, auditContextOf(request));
        request.log.info({ event: 'email.confirmed', user_id: userId }, 'email address confirmed');
      } catch (error) {
        if (error instanceof InvalidCodeError) return kit.send(reply, 400, 'confirm-email', { csrfToken, error: DEAD_LINK });
        if (error instanceof EmailTakenError)
          return kit.send(reply, 409, 'confirm-email', { csrfToken, error: 'This address is already confirmed for another account.' });
        throw error;
      }
      return kit.send(reply, 200, 'confirm-email', { csrfToken, done: true });
    },
  );
};
