import { auditRecord, type AuditContext, type AuditRecord } from '../audit/audit-event.js';
import { InvalidGrantError, MfaRequiredError } from '../errors/errors.js';
import { passwordFingerprint } from '../recovery/email-code.js';
import type { UserRecord, UserStore } from '../users/user-store.js';
import type { FactorStore } from './factor-store.js';
import type { MfaChallengeBinding, MfaChallenges } from './mfa-challenge.js';
import { verifySecondFactor, type SecondFactorDeps, type SecondFactorProof } from './second-factor.js';

/**
 * What a sign-in with a password and a second code records (RFC 8176): `otp` for a TOTP code and
 * for a recovery code alike, which is a one-time password kept on paper. Two factors: AAL2.
 */
export const PASSWORD_AND_CODE_METHODS: readonly string[] = Object.freeze(['pwd', 'otp']);

export interface MfaSignInDeps {
  readonly challenges: MfaChallenges;
  readonly factors: Pick<FactorStore, 'hasConfirmed'>;
  readonly secondFactor: SecondFactorDeps;
  readonly users: Pick<UserStore, 'findById'>;
  /** A refused factor step changes nothing: its audit row is written on its own. */
  readonly recordAudit: (record: AuditRecord) => Promise<void>;
  readonly now: () => number;
}

/** What the password step asked for, kept in the challenge for the factor step to yield. */
export type PasswordStep = Pick<MfaChallengeBinding, 'clientId' | 'requestedScopes' | 'tenant' | 'resource' | 'yields'>;

export interface CompletedSecondFactor {
  /** The user as read at the factor step (roles, token version as they are now). */
  readonly user: UserRecord;
  readonly step: PasswordStep;
  readonly method: 'otp' | 'recovery_code';
}

export interface MfaSignIn {
  /**
   * After a right password: undefined for a user without a confirmed factor (the sign-in goes on as
   * before); else the MfaRequiredError to answer with, carrying a fresh challenge. No session, no token.
   */
  challengeIfRequired(user: UserRecord, step: PasswordStep, audit: AuditContext): Promise<MfaRequiredError | undefined>;
  /**
   * The factor step: spends the challenge, checks it was made for `expected` (the client, and what
   * it yields), that the account still stands as it did at the password step (same password hash,
   * same token version, enabled, unlocked), then the code. Every refusal is the same
   * InvalidGrantError, whatever failed (the audit trail and the log say which); a wrong code gives
   * the challenge back with one attempt fewer. ThrottledError past GATEHOUSE_LIMIT_OTP_USER.
   */
  complete(
    challenge: string,
    proof: SecondFactorProof,
    expected: Pick<PasswordStep, 'clientId' | 'yields'>,
    audit: AuditContext,
  ): Promise<CompletedSecondFactor>;
}

export function createMfaSignIn(deps: MfaSignInDeps): MfaSignIn {
  const refuse = async (audit: AuditContext, reason: string, subjectId: string | null): Promise<never> => {
    await deps.recordAudit(auditRecord(audit, { event: 'mfa.failed', outcome: 'failure', reason, subjectId }, new Date(deps.now())));
    throw new InvalidGrantError(`second factor refused: ${reason}`);
  };
  return {
    async challengeIfRequired(user, step, audit) {
      if (user.passwordHash === null) return undefined;
      // Read with the account at sign-in; when the record came from elsewhere, asked of the store.
      if (!(user.hasSecondFactor ?? (await deps.factors.hasConfirmed(user.id)))) return undefined;
      const { challenge, expiresIn } = await deps.challenges.issue({
        ...step,
        userId: user.id,
        passwordFingerprint: passwordFingerprint(user.passwordHash),
        tokenVersion: user.tokenVersion,
      });
      const record = auditRecord(audit, { event: 'mfa.challenged', outcome: 'success', reason: step.yields, subjectId: user.id }, new Date(deps.now()));
      await deps.recordAudit(record);
      return new MfaRequiredError(challenge, expiresIn);
    },

    async complete(challenge, proof, expected, audit) {
      const binding = await deps.challenges.take(challenge);
      if (binding === undefined) return refuse(audit, 'challenge_unknown_used_or_expired', null);
      // Spent from here on whatever follows, except a wrong code (given back, counted) or a throttled one.
      if (binding.clientId !== expected.clientId || binding.yields !== expected.yields) return refuse(audit, 'challenge_of_another_client', binding.userId);
      const user = await deps.users.findById(binding.userId);
      if (user === undefined || user.passwordHash === null) return refuse(audit, 'account_gone', binding.userId);
      if (passwordFingerprint(user.passwordHash) !== binding.passwordFingerprint) return refuse(audit, 'password_changed_since', user.id);
      if (user.tokenVersion !== binding.tokenVersion) return refuse(audit, 'tokens_revoked_since', user.id);
      if (user.disabledAt !== null || user.lockedAt !== null) return refuse(audit, 'account_disabled', user.id);
      let outcome;
      try {
        outcome = await verifySecondFactor(deps.secondFactor, user.id, proof);
      } catch (error) {
        // Throttled (or a store down): the challenge was not the problem, so it is not used up.
        await deps.challenges.giveBack(challenge, binding, false);
        throw error;
      }
      if (!outcome.accepted) {
        await deps.challenges.giveBack(challenge, binding, true);
        return refuse(audit, outcome.reason, user.id);
      }
      const record = auditRecord(
        audit,
        { event: 'mfa.succeeded', outcome: 'success', reason: outcome.method, actorId: user.id, subjectId: user.id },
        new Date(deps.now()),
      );
      await deps.recordAudit(record);
      const { clientId, requestedScopes, tenant, resource, yields } = binding;
      return { user, step: { clientId, requestedScopes, tenant, resource, yields }, method: outcome.method };
    },
  };
}
