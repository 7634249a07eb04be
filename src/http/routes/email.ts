import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { checkEmailChange } from '../../email/email-change.js';
import { confirmEmail, mailEmailChange, mailEmailConfirmation, resendEmailConfirmation, type EmailConfirmationDeps } from '../../email/email-confirmation.js';
import { PUBLIC } from '../../guard/requirement.js';
import { findAccount } from '../../recovery/code-mail.js';
import type { GatehouseServices } from '../../services.js';
import type { UserRecord } from '../../users/user-store.js';
import type { AuditContext } from '../../audit/audit-event.js';
import { auditContextOf } from '../audit-context.js';
import { assertMailOn, passwordResetDeps, usernameField } from './password-reset.js';
import { problemSchema } from './problem-schema.js';

export function emailConfirmationDeps(services: GatehouseServices): EmailConfirmationDeps {
  return passwordResetDeps(services);
}

/**
 * After a registration with an address: the confirmation link, off the request path. Nothing when
 * mail is off (production without SMTP): the address stays unconfirmed.
 */
export function mailRegistrationConfirmation(services: GatehouseServices, user: UserRecord, audit: AuditContext): void {
  if (user.email === null || services.mailer.delivery === 'off') return;
  const email = user.email;
  const deps = emailConfirmationDeps(services);
  services.backgroundWork.run('email.confirmation', async () => {
    await mailEmailConfirmation(deps, user, email, 'registration', audit);
  });
}

const accepted = z.object({ status: z.literal('accepted'), message: z.string() });

/** The one answer to every resend, whoever it names. */
export const CONFIRMATION_RESENT = Object.freeze({
  status: 'accepted' as const,
  message: 'If the account exists and its address is not confirmed yet, a new confirmation link is on its way to it.',
});

/** The one answer to every change, whether the new address is free or another account's. */
export const CHANGE_REQUESTED = Object.freeze({
  status: 'accepted' as const,
  message: 'A confirmation link is on its way to the new address; the change takes effect once it is confirmed. The old address has been told.',
});

export const emailRoutes: FastifyPluginAsyncZod<{ services: GatehouseServices }> = async (app, { services }) => {
  const deps = emailConfirmationDeps(services);

  app.post(
    '/auth/email/verification',
    {
      config: { auth: PUBLIC, throttle: 'mail_request' },
      schema: {
        tags: ['auth'],
        summary: 'Mail the address-confirmation link again (always 202, whether the account exists or not)',
        body: z.object({ username: usernameField }).strict(),
        response: { 202: accepted, 400: problemSchema, 404: problemSchema, 429: problemSchema },
      },
    },
    async (request, reply) => {
      assertMailOn(services);
      const { username } = request.body;
      const audit = auditContextOf(request);
      services.backgroundWork.run('email.confirmation', async () => {
        const outcome = await resendEmailConfirmation(deps, await findAccount(deps.users, { username }), audit);
        request.log.info({ event: 'email.confirmation_requested', outcome }, 'confirmation resend requested');
      });
      return reply.code(202).send(CONFIRMATION_RESENT);
    },
  );

  app.post(
    '/auth/email/confirm',
    {
      config: { auth: PUBLIC },
      schema: {
        tags: ['auth'],
        summary: 'Confirm an address with the mailed code (a registration or a change)',
        body: z.object({ code: z.string().max(128) }).strict(),
        response: { 204: z.void(), 400: problemSchema, 404: problemSchema, 409: problemSchema },
      },
    },
    async (request, reply) => {
      assertMailOn(services);
      const { userId } = await confirmEmail(deps, request.body.code, auditContextOf(request));
      request.log.info({ event: 'email.confirmed', user_id: userId }, 'email address confirmed');
      return reply.code(204).send();
    },
  );

  app.post(
    '/me/email',
    {
      // A factor change: the address is where password resets go, so a stolen session must not move it.
      config: { auth: { schemes: ['bearer', 'session'], scopes: ['profile'], factorChange: true }, throttle: 'password_change' },
      schema: {
        tags: ['me'],
        summary: 'Change your email address: prove your password; the new address confirms, the old one is told',
        description:
          'Needs a sign-in within the last 5 minutes, made with two factors once you have a second factor; otherwise 401 `ERR_STEP_UP_REQUIRED` with an RFC 9470 challenge.',
        body: z.object({ email: z.string().max(320), current_password: z.string().max(4096) }).strict(),
        response: { 202: accepted, 400: problemSchema, 401: problemSchema, 403: problemSchema, 404: problemSchema },
      },
    },
    async (request, reply) => {
      assertMailOn(services);
      const audit = auditContextOf(request);
      const { user, email } = await checkEmailChange(
        { users: services.uncachedUsers, hasher: services.hasher, recordAudit: deps.recordAudit, now: services.now },
        request.principal!,
        { email: request.body.email, currentPassword: request.body.current_password },
        audit,
      );
      services.backgroundWork.run('email.change', async () => {
        const outcome = await mailEmailChange(deps, user, email, audit);
        request.log.info({ event: 'email.confirmation_requested', user_id: user.id, outcome }, 'email change requested');
      });
      return reply.code(202).send(CHANGE_REQUESTED);
    },
  );
};
