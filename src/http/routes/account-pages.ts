import type { FastifyReply, FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { CurrentPasswordWrongError, NotFoundError, PasswordPolicyError } from '../../errors/errors.js';
import type { RouteRequirement } from '../../guard/requirement.js';
import type { AccountPage } from '../../pages/page-renderer.js';
import type { GatehouseServices } from '../../services.js';
import { listDeviceSessions, revokeDeviceSession } from '../../sessions/device-sessions.js';
import { logoutEverywhere } from '../../sessions/logout.js';
import { changePassword } from '../../users/password-change.js';
import { passwordChangeDeps } from './password.js';
import { auditContextOf } from '../audit-context.js';
import type { PageKit } from '../pages/page-kit.js';
import { ownAuditEventView } from './audit-view.js';
import { listFactors } from '../../factors/factors.js';

/** Signed in with the browser's session cookie only; without one, a 303 to the sign-in page and back. */
export const SIGNED_IN_PAGE: RouteRequirement = Object.freeze({ schemes: ['session'] as const, page: true, scopes: ['profile'] });
const PAGE = { errorStyle: 'page' } as const;
const RECENT_EVENTS = 20;

const tokenOnlyForm = z.object({ _csrf: z.string().max(256).optional() }).strict();
const passwordForm = z
  .object({
    _csrf: z.string().max(256).optional(),
    username: z.string().max(256).optional(),
    current_password: z.string().max(4096),
    new_password: z.string().max(4096),
  })
  .strict();
const sessionParams = z.object({ id: z.string().max(64) });
/** What a redirect back to /account may announce: fixed words, never text from the URL. */
const NOTICES = {
  password_changed: 'Your password was changed. Your other sessions were signed out.',
  session_ended: 'That session was signed out.',
  totp_added: 'Your authenticator app was added.',
  factor_removed: 'That authenticator app was removed.',
} as const;
const accountQuery = z.object({ done: z.enum(Object.keys(NOTICES) as [keyof typeof NOTICES]).optional() }).strict();

/** The account page: profile, sessions (sign out one, or all), password change, recent security events. */
export const accountPageRoutes: FastifyPluginAsyncZod<{ services: GatehouseServices; kit: PageKit }> = async (app, { services, kit }) => {
  const sessionDeps = { sessions: services.sessions, revocations: services.revocations, now: services.now };
  const passwordDeps = passwordChangeDeps(services);

  const renderAccount = async (request: FastifyRequest, reply: FastifyReply, status: number, extra: Pick<AccountPage, 'notice' | 'passwordError'>) => {
    const principal = request.principal!;
    const [sessions, events, passkeys, factors, recoveryCodesLeft] = await Promise.all([
      listDeviceSessions(sessionDeps, principal),
      services.audit.list({ subjectId: principal.subject, limit: RECENT_EVENTS }),
      services.passkeys.list(principal.subject),
      listFactors(services.factors, principal.subject),
      services.factors.store.recoveryCodesLeft(principal.subject),
    ]);
    const { user } = principal;
    return kit.send(kit.allowPasskeyScript(reply), status, 'account', {
      passkeys,
      totp: { factors: factors.filter((f) => f.confirmedAt !== null), recoveryCodesLeft },
      csrfToken: kit.csrf.tokenFor(request, reply),
      profile: {
        id: user.id,
        username: user.username,
        email: user.email,
        createdAt: user.createdAt,
        ...(principal.tenantId === undefined ? {} : { tenant: principal.tenantId }),
      },
      sessions,
      events: events.map(ownAuditEventView).map((e) => ({
        event: e.event,
        outcome: e.outcome,
        reason: e.reason,
        occurredAt: new Date(e.occurred_at),
        ip: e.ip,
        byAdministrator: e.by_administrator,
      })),
      ...extra,
    });
  };
  /** After the browser's own session ended: no cookie left to show, so to the sign-in page. */
  const signedOut = (reply: FastifyReply) => kit.clearSessionCookie(reply).redirect('/login', 303);

  app.get('/account', { config: { auth: SIGNED_IN_PAGE, ...PAGE }, schema: { hide: true, querystring: accountQuery } }, async (request, reply) =>
    renderAccount(request, reply, 200, request.query.done === undefined ? {} : { notice: NOTICES[request.query.done] }),
  );

  app.post(
    '/account/password',
    {
      config: { auth: SIGNED_IN_PAGE, throttle: 'password_change', ...PAGE },
      schema: { hide: true, body: passwordForm },
      onRequest: kit.refuseCrossSite,
      preHandler: kit.checkForm,
    },
    async (request, reply) => {
      const principal = request.principal!;
      try {
        const revoked = await changePassword(
          passwordDeps,
          principal,
          { currentPassword: request.body.current_password, newPassword: request.body.new_password },
          auditContextOf(request),
        );
        request.log.info({ event: 'user.password_changed', user_id: principal.subject, sessions_revoked: revoked }, 'password changed');
      } catch (error) {
        if (error instanceof CurrentPasswordWrongError) return renderAccount(request, reply, 403, { passwordError: 'The current password is not correct.' });
        if (error instanceof PasswordPolicyError) return renderAccount(request, reply, 400, { passwordError: `New password not accepted: ${error.message}.` });
        throw error;
      }
      return reply.redirect('/account?done=password_changed', 303);
    },
  );

  app.post(
    '/account/sessions/end-all',
    { config: { auth: SIGNED_IN_PAGE, ...PAGE }, schema: { hide: true, body: tokenOnlyForm }, onRequest: kit.refuseCrossSite, preHandler: kit.checkForm },
    async (request, reply) => {
      const principal = request.principal!;
      const sessions = await logoutEverywhere(sessionDeps, principal, auditContextOf(request));
      request.log.info({ event: 'session.logout_all', user_id: principal.subject, sessions_revoked: sessions }, 'logged out everywhere');
      return signedOut(reply);
    },
  );

  app.post(
    '/account/sessions/:id/end',
    {
      config: { auth: SIGNED_IN_PAGE, ...PAGE },
      schema: { hide: true, params: sessionParams, body: tokenOnlyForm },
      onRequest: kit.refuseCrossSite,
      preHandler: kit.checkForm,
    },
    async (request, reply) => {
      const principal = request.principal!;
      try {
        await revokeDeviceSession(sessionDeps, principal, request.params.id, auditContextOf(request));
        request.log.info({ event: 'session.device_revoked', user_id: principal.subject, session_id: request.params.id }, 'session revoked');
      } catch (error) {
        // Ended meanwhile (another tab, another device) or never ours: the list simply does not show it.
        if (!(error instanceof NotFoundError)) throw error;
      }
      if (request.params.id.toLowerCase() === principal.sessionId?.toLowerCase()) return signedOut(reply);
      return reply.redirect('/account?done=session_ended', 303);
    },
  );
};
