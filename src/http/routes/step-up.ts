import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { ACR_VALUES, assuranceLevelOf } from '@gatehouse/verify';
import { ForbiddenError, InvalidTokenError, ValidationError } from '../../errors/errors.js';
import { secondFactorDepsOf, secondFactorProofOf } from '../../factors/second-factor.js';
import { stepUp, type StepUpDeps } from '../../factors/step-up.js';
import { accessTokenOfSession } from '../../oauth/token-request.js';
import type { GatehouseServices } from '../../services.js';
import { auditContextOf } from '../audit-context.js';
import { SIGNED_IN } from './factor-change-routes.js';
import { problemSchema } from './problem-schema.js';

const stepUpBody = z
  .object({
    otp: z.string().max(16).optional().describe('the code of the authenticator app'),
    recovery_code: z.string().max(64).optional().describe('or one recovery code'),
  })
  .strict();

const steppedUp = z.object({
  acr: z.string(),
  amr: z.array(z.string()),
  auth_time: z.number().int(),
  access_token: z.string().optional().describe('bearer callers only: a new access token carrying the step-up (the refresh token is unchanged)'),
  token_type: z.literal('Bearer').optional(),
  expires_in: z.number().int().optional(),
  scope: z.string().optional(),
});

/** What `stepUp` needs, from the services: shared by this route and the hosted step-up form. */
export function stepUpDepsOf(services: GatehouseServices): StepUpDeps {
  return {
    secondFactor: secondFactorDepsOf(services.factors),
    sessions: services.sessions,
    recordAudit: (record) => services.audit.record(record),
    now: services.now,
  };
}

/**
 * RFC 9470 step-up: the signed-in user presents a code of his second factor and his session
 * records a two-factor authentication now. A bearer caller gets a new access token with it; a
 * cookie session carries it from the next request. It fades: `auth_time` is now, and routes that
 * ask for `maxAge` measure from it.
 */
export const stepUpRoutes: FastifyPluginAsyncZod<{ services: GatehouseServices }> = async (app, { services }) => {
  const tokenDeps = services.tokenRequestDeps({
    onSecurityEvent: () => {},
    onRehashFailed: (error) => app.log.warn({ err: error }, 'password rehash failed'),
  });
  const deps = stepUpDepsOf(services);

  app.post(
    '/auth/step-up',
    {
      config: { auth: SIGNED_IN },
      schema: {
        tags: ['auth'],
        summary: "Step up: a code of your second factor makes this session's sign-in two-factor (AAL2) as of now",
        description:
          'Exactly one of `otp` and `recovery_code`; each code is accepted once, and wrong ones count against GATEHOUSE_LIMIT_OTP_USER (429 past it). A wrong code is 400 ERR_INVALID_CODE. The elevation is `auth_time`-based: a route asking for a sign-in within 5 minutes stops accepting it 5 minutes later.',
        body: stepUpBody,
        response: { 200: steppedUp, 400: problemSchema, 401: problemSchema, 403: problemSchema, 429: problemSchema },
      },
    },
    async (request, reply) => {
      const principal = request.principal!;
      if (principal.sessionId === undefined) throw new ForbiddenError('no session behind this credential to step up');
      const proof = secondFactorProofOf({ otp: request.body.otp, recoveryCode: request.body.recovery_code });
      if (proof === undefined) throw new ValidationError([{ field: 'otp', message: 'exactly one of otp and recovery_code is required' }]);
      const { sessionId } = principal;
      const authentication = await stepUp(
        deps,
        { userId: principal.subject, sessionId, authentication: principal.authentication },
        proof,
        auditContextOf(request),
      );
      const facts = { acr: ACR_VALUES[assuranceLevelOf(authentication.methods)], amr: [...authentication.methods], auth_time: authentication.time };
      request.log.info({ event: 'session.stepped_up', user_id: principal.subject, session_id: sessionId }, 'session stepped up');
      reply.headers({ 'cache-control': 'no-store', pragma: 'no-cache' });
      if (principal.via !== 'bearer') return facts;
      const session = await services.sessions.find(sessionId);
      if (session === undefined) throw new InvalidTokenError('session gone after the step-up');
      return { ...facts, ...(await accessTokenOfSession(tokenDeps, session)) };
    },
  );
};
