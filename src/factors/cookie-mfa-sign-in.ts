import type { AuditContext } from '../audit/audit-event.js';
import type { BrowserSessions, SignedIn } from '../sessions/browser-sessions.js';
import { PASSWORD_AND_CODE_METHODS, type MfaSignIn } from './mfa-sign-in.js';
import type { SecondFactorProof } from './second-factor.js';

export interface CookieMfaSignInDeps {
  readonly mfa: Pick<MfaSignIn, 'complete'>;
  readonly browserSessions: Pick<BrowserSessions, 'signInProven'>;
  /** The client browser sessions are recorded under: a challenge of the token endpoint does not open a cookie session. */
  readonly clientId: string;
}

export interface CookieMfaSignInInput {
  readonly challenge: string;
  readonly proof: SecondFactorProof;
  readonly device: string;
  readonly ip: string | null;
  /** The session cookie the browser came with, if any: it ends, as at every sign-in. */
  readonly presentedCookie?: string | undefined;
  readonly audit: AuditContext;
}

/**
 * The factor step of a browser sign-in (`POST /auth/session/mfa`, the hosted second-factor form):
 * the challenge spent with a code, then the cookie session the password step would have started,
 * in the tenant it named, recording both factors (AAL2).
 */
export async function finishCookieMfaSignIn(deps: CookieMfaSignInDeps, input: CookieMfaSignInInput): Promise<SignedIn> {
  const done = await deps.mfa.complete(input.challenge, input.proof, { clientId: deps.clientId, yields: 'cookie' }, input.audit);
  return deps.browserSessions.signInProven({
    tenant: done.step.tenant ?? undefined,
    device: input.device,
    ip: input.ip,
    presentedCookie: input.presentedCookie,
    audit: input.audit,
    methods: PASSWORD_AND_CODE_METHODS,
    authenticate: async () => done.user,
  });
}
