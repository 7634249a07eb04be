import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { AuditRecord } from '../../audit/audit-event.js';
import { NotFoundError } from '../../errors/errors.js';
import { PUBLIC } from '../../guard/requirement.js';
import { completePasswordReset, mailPasswordReset, type PasswordResetDeps } from '../../recovery/password-reset.js';
import type { GatehouseServices } from '../../services.js';
import { auditContextOf } from '../audit-context.js';
import { problemSchema } from './problem-schema.js';

/** What a reset needs from the services: the API routes and the hosted pages use the same. */
export function passwordResetDeps(services: GatehouseServices): PasswordResetDeps {
  return {
    users: services.uncachedUsers,
    codes: services.emailCodes,
    mailer: services.mailer,
    accountMailLimit: (purpose, userId) => services.throttle.requests.accountMail(purpose, userId),
    recordAudit: (record: AuditRecord) => services.audit.record(record),
    issuer: services.config.issuer,
    now: services.now,
    hasher: services.hasher,
    revocations: services.revocations,
    passwordMinLength: services.config.passwordMinLength,
  };
}

/** Production without GATEHOUSE_SMTP_URL: the routes that mail are there, and answer 404 (as the revocation feed does unconfigured). */
export function assertMailOn(services: GatehouseServices): void {
  if (services.mailer.delivery === 'off') throw new NotFoundError('mail is off (GATEHOUSE_SMTP_URL unset)');
}

/** The one answer to every reset request, whoever it names. */
export const RESET_REQUESTED = Object.freeze({
  status: 'accepted',
  message: 'If the account exists and has a confirmed email address, a message with a reset link is on its way to it.',
});

/**
 * A name no account can have (a NUL) is refused like any malformed field: no account exists or not
 * by that answer, and the NUL never reaches a query.
 */
export const usernameField = z
  .string()
  .max(256)
  .refine((v) => !v.includes('\u0000'), 'must be well-formed text');

const requestBody = z
  .object({ username: usernameField.optional(), email: z.string().max(320).optional() })
  .strict()
  .refine((b) => (b.username === undefined) !== (b.email === undefined), { message: 'give either username or email' });

const completeBody = z.object({ code: z.string().max(128), new_password: z.string().max(4096) }).strict();

export const passwordResetRoutes: FastifyPluginAsyncZod<{ services: GatehouseServices }> = async (app, { services }) => {
  const deps = passwordResetDeps(services);

  app.post(
    '/auth/password-reset',
    {
      config: { auth: PUBLIC, throttle: 'mail_request' },
      schema: {
        tags: ['auth'],
        summary: 'Mail a password-reset link to the account (always 202, whether it exists or not)',
        body: requestBody,
        response: { 202: z.object({ status: z.literal('accepted'), message: z.string() }), 400: problemSchema, 404: problemSchema, 429: problemSchema },
      },
    },
    async (request, reply) => {
      assertMailOn(services);
      const who = request.body.username !== undefined ? { username: request.body.username } : { email: request.body.email ?? '' };
      const audit = auditContextOf(request);
      // Off the request path: the answer, and its timing, are the same whether there is an account or not.
      services.backgroundWork.run('password_reset.mail', async () => {
        const outcome = await mailPasswordReset(deps, who, audit);
        request.log.info({ event: 'password_reset.requested', outcome }, 'password reset requested');
      });
      return reply.code(202).send(RESET_REQUESTED);
    },
  );

  app.post(
    '/auth/password-reset/complete',
    {
      config: { auth: PUBLIC },
      schema: {
        tags: ['auth'],
        summary: 'Set a new password with the mailed code; every session of the account ends',
        body: completeBody,
        response: { 204: z.void(), 400: problemSchema, 404: problemSchema },
      },
    },
    async (request, reply) => {
      assertMailOn(services);
      const done = await completePasswordReset(deps, { code: request.body.code, newPassword: request.body.new_password }, auditContextOf(request));
      request.log.info({ event: 'password_reset.completed', user_id: done.userId, sessions_revoked: done.sessionsRevoked }, 'password reset');
      return reply.code(204).send();
    },
  );
};
