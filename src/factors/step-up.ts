import type { Authentication } from '@gatehouse/verify';
import { auditRecord, type AuditContext, type AuditRecord } from '../audit/audit-event.js';
import { InvalidCodeError, InvalidTokenError } from '../errors/errors.js';
import type { SessionStore } from '../sessions/session-store.js';
import { verifySecondFactor, type SecondFactorDeps, type SecondFactorProof } from './second-factor.js';

export interface StepUpDeps {
  readonly secondFactor: SecondFactorDeps;
  readonly sessions: Pick<SessionStore, 'recordAuthentication'>;
  /** A refused code changes nothing: its audit row is written on its own. */
  readonly recordAudit: (record: AuditRecord) => Promise<void>;
  readonly now: () => number;
}

export interface SteppingUp {
  readonly userId: string;
  readonly sessionId: string;
  /** How the session authenticated so far; the code adds `otp` to it. */
  readonly authentication: Authentication | undefined;
}

/**
 * RFC 9470 step-up within a session: a code of the user's second factor (TOTP or a recovery code,
 * each accepted once, throttled per account) makes the session's authentication `otp` on top of
 * what it had, at now. Nothing sticks: a route asking for `maxAge` looks at that time, so the
 * elevation fades. InvalidCodeError for a wrong, replayed or malformed code (audited `mfa.failed`;
 * the signed-in user may know it was the code); InvalidTokenError when the session ended meanwhile.
 */
export async function stepUp(deps: StepUpDeps, who: SteppingUp, proof: SecondFactorProof, audit: AuditContext): Promise<Authentication> {
  const outcome = await verifySecondFactor(deps.secondFactor, who.userId, proof);
  const at = new Date(deps.now());
  const fields = { actorId: who.userId, subjectId: who.userId, sessionId: who.sessionId } as const;
  if (!outcome.accepted) {
    await deps.recordAudit(auditRecord(audit, { event: 'mfa.failed', outcome: 'failure', reason: `step_up:${outcome.reason}`, ...fields }, at));
    throw new InvalidCodeError(`step-up refused: ${outcome.reason}`);
  }
  // No facts on record (none of the schemes this takes): `otp` alone, one factor, as it truly is.
  const methods = [...new Set([...(who.authentication?.methods ?? []), 'otp'])];
  const authentication: Authentication = { methods, time: Math.floor(at.getTime() / 1000) };
  const record = auditRecord(audit, { event: 'mfa.succeeded', outcome: 'success', reason: `step_up:${outcome.method}`, ...fields }, at);
  if (!(await deps.sessions.recordAuthentication(who.sessionId, authentication, at, [record]))) {
    throw new InvalidTokenError('session ended before the step-up was recorded');
  }
  return authentication;
}
