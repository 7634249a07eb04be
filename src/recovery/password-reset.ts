import { auditRecord, type AuditContext } from '../audit/audit-event.js';
import { InvalidCodeError } from '../errors/errors.js';
import { checkPassword } from '../passwords/password-policy.js';
import type { Revocations } from '../revocation/revocations.js';
import type { PasswordHashing } from '../users/password-hashing.js';
import { findAccount, type AccountIdentifier, type CodeMailDeps } from './code-mail.js';
import { digestEmailCode, EMAIL_CODE_TTL_MS, newEmailCode, passwordFingerprint } from './email-code.js';
import { passwordResetMail } from './mail-texts.js';

export interface PasswordResetDeps extends CodeMailDeps {
  readonly hasher: PasswordHashing;
  readonly revocations: Pick<Revocations, 'atomically'>;
  readonly passwordMinLength: number;
}

export type ResetRequestOutcome = 'mailed' | 'no_account' | 'no_verified_email' | 'account_disabled' | 'throttled';

/**
 * Mails a reset code to the account's confirmed address. Runs off the request path (the route
 * answers 202 before this starts), so nothing here can tell the caller whether the account exists;
 * the outcome goes to the audit trail (never the code, never the identifier typed). One mail per
 * account per GATEHOUSE_LIMIT_MAIL_ACCOUNT window: a flood of requests for alice sends her one.
 */
export async function mailPasswordReset(deps: PasswordResetDeps, who: AccountIdentifier, audit: AuditContext): Promise<ResetRequestOutcome> {
  const user = await findAccount(deps.users, who);
  const now = new Date(deps.now());
  const requested = (outcome: 'success' | 'failure', reason: string | null, subjectId: string | null) =>
    auditRecord(audit, { event: 'password_reset.requested', outcome, reason, actorId: null, subjectId }, now);
  const outcome: ResetRequestOutcome =
    // A service account has no password to reset: as for no account.
    user === undefined || user.passwordHash === null
      ? 'no_account'
      : user.disabledAt !== null || user.lockedAt !== null
        ? 'account_disabled'
        : // An unconfirmed address may be a typo, someone else's mailbox: a reset there would hand them the account.
          user.email === null || user.emailVerifiedAt === null
          ? 'no_verified_email'
          : (await deps.accountMailLimit('password_reset', user.id)) !== undefined
            ? 'throttled'
            : 'mailed';
  if (outcome !== 'mailed' || user === undefined || user.email === null || user.passwordHash === null) {
    await deps.recordAudit(requested('failure', outcome, user?.id ?? null));
    return outcome;
  }
  const { code, digest } = newEmailCode();
  await deps.codes.issue(
    {
      digest,
      userId: user.id,
      purpose: 'password_reset',
      email: user.email,
      passwordFingerprint: passwordFingerprint(user.passwordHash),
      createdAt: now,
      expiresAt: new Date(now.getTime() + EMAIL_CODE_TTL_MS),
    },
    [requested('success', null, user.id)],
  );
  await deps.mailer.send(passwordResetMail({ to: user.email, username: user.username, issuer: deps.issuer, code, ttlMinutes: EMAIL_CODE_TTL_MS / 60_000 }));
  return 'mailed';
}

export interface PasswordResetCompletion {
  readonly code: string;
  readonly newPassword: string;
}

/**
 * Sets a new password with a mailed code, under the password policy, and ends every session of the
 * user (whoever made the user forget it may be signed in), in one transaction with the audit row.
 * The code is consumed in that transaction: a used, expired, unknown or stale code (the password
 * changed since it was mailed) is one InvalidCodeError; the log and the trail say which.
 * Returns the user and how many sessions ended.
 */
export async function completePasswordReset(
  deps: PasswordResetDeps,
  input: PasswordResetCompletion,
  audit: AuditContext,
): Promise<{ readonly userId: string; readonly sessionsRevoked: number }> {
  const now = new Date(deps.now());
  const refuse = async (reason: string, subjectId: string | null): Promise<never> => {
    await deps.recordAudit(auditRecord(audit, { event: 'password_reset.refused', outcome: 'failure', reason, actorId: null, subjectId }, now));
    throw new InvalidCodeError(reason);
  };
  const digest = digestEmailCode(input.code);
  if (digest === undefined) return refuse('malformed_code', null);
  const code = await deps.codes.find(digest, 'password_reset', now);
  if (code === undefined) return refuse('unknown_used_or_expired', null);
  const user = await deps.users.findById(code.userId);
  if (user === undefined || user.passwordHash === null) return refuse('unknown_used_or_expired', null);
  const currentHash = user.passwordHash;
  if (code.passwordFingerprint !== passwordFingerprint(currentHash)) {
    await deps.codes.discard(digest);
    return refuse('password_changed_since', user.id);
  }
  if (user.disabledAt !== null || user.lockedAt !== null) return refuse('account_disabled', user.id);
  // A policy refusal leaves the code as it is: the user may try a better password with it.
  checkPassword(input.newPassword, { username: user.username, email: user.email, field: 'new_password' }, { minLength: deps.passwordMinLength });
  const nextHash = await deps.hasher.hash(input.newPassword);
  const record = auditRecord(audit, { event: 'password_reset.completed', outcome: 'success', actorId: user.id, subjectId: user.id }, now);
  let revoked: string[];
  try {
    revoked = await deps.revocations.atomically(async (unit) => {
      if ((await unit.stores.emailCodes.consume(digest, 'password_reset', now)) === undefined) throw new InvalidCodeError('used_concurrently');
      // Compare-and-set on the hash the code was checked against: a change since kills the code.
      if (!(await unit.stores.users.replacePasswordHash(user.id, currentHash, nextHash, [record]))) throw new InvalidCodeError('password_changed_since');
      return unit.revokeSessionsOfUser(user.id, 'password_reset', now);
    });
  } catch (error) {
    if (error instanceof InvalidCodeError) return refuse(error.logReason ?? 'invalid_code', user.id);
    throw error;
  }
  return { userId: user.id, sessionsRevoked: revoked.length };
}
