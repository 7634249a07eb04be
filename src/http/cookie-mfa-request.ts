import type { FastifyRequest } from 'fastify';
import { finishCookieMfaSignIn } from '../factors/cookie-mfa-sign-in.js';
import type { SecondFactorProof } from '../factors/second-factor.js';
import { BROWSER_CLIENT_ID } from '../oauth/clients.js';
import type { GatehouseServices } from '../services.js';
import type { SignedIn } from '../sessions/browser-sessions.js';
import { signInContextOf } from './audit-context.js';

/**
 * The factor step of a browser sign-in as a request makes it: the half `POST /auth/session/mfa`
 * (JSON) and the hosted `POST /login/second-factor` (a form) share. Each sets the cookie and
 * answers in its own way; a refusal is thrown for each to answer.
 */
export async function cookieMfaSignInOf(
  services: Pick<GatehouseServices, 'mfaSignIn' | 'browserSessions'>,
  request: FastifyRequest,
  step: { readonly challenge: string; readonly proof: SecondFactorProof; readonly presentedCookie: string | undefined },
): Promise<SignedIn> {
  const signedIn = await finishCookieMfaSignIn(
    { mfa: services.mfaSignIn, browserSessions: services.browserSessions, clientId: BROWSER_CLIENT_ID },
    {
      ...step,
      ...signInContextOf(request),
    },
  );
  const { session } = signedIn;
  request.log.info({ event: 'session.created', user_id: session.userId, session_id: session.id, second_factor: true }, 'browser signed in');
  return signedIn;
}
