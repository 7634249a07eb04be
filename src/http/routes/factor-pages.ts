import type { FastifyReply, FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { InvalidCodeError } from '../../errors/errors.js';
import { confirmTotp, enrolTotp, pendingEnrolment, regenerateRecoveryCodes, removeFactor, type TotpEnrolment } from '../../factors/factors.js';
import type { RouteRequirement } from '../../guard/requirement.js';
import type { GatehouseServices } from '../../services.js';
import { auditContextOf } from '../audit-context.js';
import type { PageKit } from '../pages/page-kit.js';
import { SIGNED_IN_PAGE } from './account-pages.js';
import { CODE_REFUSED } from './second-factor-pages.js';

/** A factor change from a page: a recent sign-in (two-factor once there is a factor), else the guard sends the browser to the step-up prompt. */
const CHANGES_FACTORS_PAGE: RouteRequirement = Object.freeze({ ...SIGNED_IN_PAGE, factorChange: true });
const PAGE = { errorStyle: 'page' } as const;
const tokenOnlyForm = z.object({ _csrf: z.string().max(256).optional() }).strict();
const codeForm = z.object({ _csrf: z.string().max(256).optional(), code: z.string().max(16) }).strict();
const factorParams = z.object({ id: z.uuid() }).strict();
/**
 * The qrcode library's SVG: one svg element of paths, no text, no script. It is embedded raw (it
 * is markup), so anything else is refused rather than trusted.
 */
const QR_SVG = /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"[^<>]*>(<path [^<>]*\/>)+<\/svg>\s*$/;

/**
 * The authenticator-app forms of /account: set one up (the QR code and its key, then a first code,
 * which yields the recovery codes once), remove one, get new recovery codes. Plain forms, no
 * script; each is a factor change (src/guard/factor-change.ts).
 */
export const factorPageRoutes: FastifyPluginAsyncZod<{ services: GatehouseServices; kit: PageKit }> = async (app, { services, kit }) => {
  const deps = services.factors;
  const form = { onRequest: kit.refuseCrossSite, preHandler: kit.checkForm };

  const sendSetup = (request: FastifyRequest, reply: FastifyReply, status: number, enrolment: TotpEnrolment, error?: string) => {
    if (!QR_SVG.test(enrolment.qrSvg)) throw new TypeError('the QR code is not the SVG the page embeds');
    const secret = new URL(enrolment.otpauthUri).searchParams.get('secret') ?? '';
    reply.headers({ 'cache-control': 'no-store' });
    return kit.send(reply, status, 'totp-setup', {
      csrfToken: kit.csrf.tokenFor(request, reply),
      factorId: enrolment.id,
      qrSvg: enrolment.qrSvg,
      secret,
      ...(error === undefined ? {} : { error }),
    });
  };
  const userOf = (request: FastifyRequest) => ({ id: request.principal!.subject, username: request.principal!.user.username });

  app.post(
    '/account/totp',
    { config: { auth: CHANGES_FACTORS_PAGE, ...PAGE }, schema: { hide: true, body: tokenOnlyForm }, ...form },
    async (request, reply) => {
      const enrolment = await enrolTotp(deps, userOf(request), undefined, auditContextOf(request));
      request.log.info({ event: 'factor.enrolled', user_id: request.principal!.subject, factor_id: enrolment.id }, 'TOTP enrolment started');
      return sendSetup(request, reply, 200, enrolment);
    },
  );

  app.post(
    '/account/totp/:id/confirm',
    { config: { auth: CHANGES_FACTORS_PAGE, ...PAGE }, schema: { hide: true, params: factorParams, body: codeForm }, ...form },
    async (request, reply) => {
      const user = userOf(request);
      let recoveryCodes: readonly string[] | undefined;
      try {
        ({ recoveryCodes } = await confirmTotp(deps, user.id, request.params.id, request.body.code.replace(/\s/g, ''), auditContextOf(request)));
      } catch (error) {
        if (!(error instanceof InvalidCodeError)) throw error;
        request.log.info({ err_code: error.code, reason: error.logReason, status: 400 }, 'TOTP confirmation refused');
        return sendSetup(request, reply, 400, await pendingEnrolment(deps, user, request.params.id), CODE_REFUSED);
      }
      request.log.info({ event: 'factor.confirmed', user_id: user.id, factor_id: request.params.id }, 'TOTP factor confirmed');
      if (recoveryCodes === undefined) return reply.redirect('/account?done=totp_added', 303);
      reply.headers({ 'cache-control': 'no-store' });
      return kit.send(reply, 200, 'recovery-codes', { codes: recoveryCodes, first: true });
    },
  );

  app.post(
    '/account/factors/:id/remove',
    { config: { auth: CHANGES_FACTORS_PAGE, ...PAGE }, schema: { hide: true, params: factorParams, body: tokenOnlyForm }, ...form },
    async (request, reply) => {
      await removeFactor(deps, request.principal!.subject, request.params.id, auditContextOf(request));
      request.log.info({ event: 'factor.removed', user_id: request.principal!.subject, factor_id: request.params.id }, 'second factor removed');
      return reply.redirect('/account?done=factor_removed', 303);
    },
  );

  app.post(
    '/account/recovery-codes',
    { config: { auth: CHANGES_FACTORS_PAGE, ...PAGE }, schema: { hide: true, body: tokenOnlyForm }, ...form },
    async (request, reply) => {
      const codes = await regenerateRecoveryCodes(deps, request.principal!.subject, auditContextOf(request));
      request.log.info({ event: 'recovery_codes.generated', user_id: request.principal!.subject }, 'recovery codes regenerated');
      reply.headers({ 'cache-control': 'no-store' });
      return kit.send(reply, 200, 'recovery-codes', { codes, first: false });
    },
  );
};
