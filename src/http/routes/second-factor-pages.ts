import type { FastifyReply, FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { InvalidCodeError, InvalidGrantError } from '../../errors/errors.js';
import { cookieMfaSignInOf } from '../cookie-mfa-request.js';
import type { SecondFactorProof } from '../../factors/second-factor.js';
import { stepUp } from '../../factors/step-up.js';
import { PUBLIC } from '../../guard/requirement.js';
import type { GatehouseServices } from '../../services.js';
import { auditContextOf } from '../audit-context.js';
import type { PageKit } from '../pages/page-kit.js';
import { SIGNED_IN_PAGE } from './account-pages.js';
import { stepUpDepsOf } from './step-up.js';

const PAGE = { errorStyle: 'page' } as const;
/**
 * The one message for every refused code, at sign-in and at step-up: a wrong code, a replayed one,
 * a spent or forged challenge, an account changed since the password step all read alike.
 */
export const CODE_REFUSED = 'That code did not work. Try again, or sign in again.';

// Shapes and bounds only; a repeated field is an array and fails here.
const returnToQuery = z.object({ return_to: z.string().max(4096).optional() }).strict();
const codeFields = { _csrf: z.string().max(256).optional(), return_to: z.string().max(4096).optional(), code: z.string().max(64) };
const signInCodeForm = z.object({ ...codeFields, challenge: z.string().max(128) }).strict();
const stepUpForm = z.object(codeFields).strict();

/** The one code field: six digits (spaces aside) are the authenticator app's, anything else a recovery code. */
export function proofOfCode(code: string): SecondFactorProof {
  const digits = code.replace(/\s/g, '');
  return /^\d{6}$/.test(digits) ? { otp: digits } : { recoveryCode: code };
}

/**
 * The second step of the hosted sign-in: the page POST /login answers for an account with a second
 * factor (the challenge in a hidden field, no cookie yet), and again after a refused code.
 */
export function sendSignInCodePage(
  kit: PageKit,
  request: FastifyRequest,
  reply: FastifyReply,
  status: number,
  form: { readonly challenge: string; readonly returnTo: string | undefined; readonly error?: string },
): FastifyReply {
  const returnTo = kit.carried(form.returnTo);
  return kit.send(reply, status, 'second-factor', {
    csrfToken: kit.csrf.tokenFor(request, reply),
    stepUp: false,
    action: '/login/second-factor',
    challenge: form.challenge,
    totp: true,
    // Passkey holders have the passkey button of /login; this step finishes the password sign-in.
    passkey: false,
    target: kit.target(form.returnTo),
    ...(returnTo === undefined ? {} : { returnTo }),
    ...(form.error === undefined ? {} : { error: form.error }),
  });
}

/**
 * The hosted second-factor pages: the code step of a sign-in (`POST /login/second-factor`), and the
 * step-up prompt a signed-in browser is sent to by a page that needs a recent two-factor sign-in
 * (`GET /login/second-factor`, posting to `POST /login/step-up`).
 */
export const secondFactorPageRoutes: FastifyPluginAsyncZod<{ services: GatehouseServices; kit: PageKit }> = async (app, { services, kit }) => {
  const stepUpDeps = stepUpDepsOf(services);

  const sendStepUpPage = async (request: FastifyRequest, reply: FastifyReply, status: number, rawReturnTo: string | undefined, error?: string) => {
    const userId = request.principal!.subject;
    const [totp, passkey] = await Promise.all([services.factors.store.hasConfirmed(userId), services.passkeys.hasPasskey(userId)]);
    const returnTo = kit.carried(rawReturnTo);
    return kit.send(passkey ? kit.allowPasskeyScript(reply) : reply, status, 'second-factor', {
      csrfToken: kit.csrf.tokenFor(request, reply),
      stepUp: true,
      action: '/login/step-up',
      totp,
      passkey,
      target: kit.target(rawReturnTo),
      ...(returnTo === undefined ? {} : { returnTo }),
      ...(error === undefined ? {} : { error }),
    });
  };

  // Public: the credential is the single-use challenge of the password step plus the code.
  app.post(
    '/login/second-factor',
    {
      config: { auth: PUBLIC, ...PAGE },
      schema: { hide: true, body: signInCodeForm },
      onRequest: kit.refuseCrossSite,
      preHandler: kit.checkForm,
    },
    async (request, reply) => {
      const { challenge, code, return_to } = request.body;
      let signedIn;
      try {
        signedIn = await cookieMfaSignInOf(services, request, { challenge, proof: proofOfCode(code), presentedCookie: kit.sessionCookieOf(request) });
      } catch (error) {
        // ThrottledError and the rest go to the error pages (429 with Retry-After).
        if (!(error instanceof InvalidGrantError)) throw error;
        request.log.info({ err_code: error.code, reason: error.logReason, status: 400 }, 'second factor refused');
        // A wrong code gave the challenge back: the same one serves the next try.
        return sendSignInCodePage(kit, request, reply, 400, { challenge, returnTo: return_to, error: CODE_REFUSED });
      }
      const { cookieValue, maxAgeSeconds } = signedIn;
      return kit.setSessionCookie(reply, cookieValue, maxAgeSeconds).redirect(kit.target(return_to), 303);
    },
  );

  // Signed in only: not signed in, the guard sends the browser to /login and back here.
  app.get('/login/second-factor', { config: { auth: SIGNED_IN_PAGE, ...PAGE }, schema: { hide: true, querystring: returnToQuery } }, async (request, reply) =>
    sendStepUpPage(request, reply, 200, request.query.return_to),
  );

  app.post(
    '/login/step-up',
    {
      config: { auth: SIGNED_IN_PAGE, ...PAGE },
      schema: { hide: true, body: stepUpForm },
      onRequest: kit.refuseCrossSite,
      preHandler: kit.checkForm,
    },
    async (request, reply) => {
      const principal = request.principal!;
      const { code, return_to } = request.body;
      try {
        await stepUp(
          stepUpDeps,
          { userId: principal.subject, sessionId: principal.sessionId!, authentication: principal.authentication },
          proofOfCode(code),
          auditContextOf(request),
        );
      } catch (error) {
        if (!(error instanceof InvalidCodeError)) throw error;
        request.log.info({ err_code: error.code, reason: error.logReason, status: 400 }, 'step-up refused');
        return sendStepUpPage(request, reply, 400, return_to, CODE_REFUSED);
      }
      request.log.info({ event: 'session.stepped_up', user_id: principal.subject, session_id: principal.sessionId }, 'session stepped up');
      return reply.redirect(kit.target(return_to), 303);
    },
  );
};
