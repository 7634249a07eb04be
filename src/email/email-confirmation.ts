import { auditRecord, type AuditContext } from '../audit/audit-event.js';
import { EmailTakenError, InvalidCodeError } from '../errors/errors.js';
import type { CodeMailDeps } from '../recovery/code-mail.js';
import { digestEmailCode, EMAIL_CODE_TTL_MS, newEmailCode, type EmailCodePurpose } from '../recovery/email-code.js';
import { emailChangeNotice, emailConfirmationMail, emailInUseNotice } from '../recovery/mail-texts.js';
import type { Revocations } from '../revocation/revocations.js';
import type { UserRecord } from '../users/user-store.js';
import { keyOfStoredEmail } from './email-address.js';

/** Why a confirmation is mailed: the audit trail's reason. */
export type ConfirmationKind = 'registration' | 'resend' | 'change';

export type ConfirmationOutcome = 'mailed' | 'address_in_use' | 'throttled' | 'no_account' | 'already_confirmed';

export interface EmailConfirmationDeps extends CodeMailDeps {
  readonly revocations: Pick<Revocations, 'atomically'>;
}

/**
 * Mails `user` a link confirming `email` (the address on file, or the one a change asks for). When
 * another account has already confirmed that address, its owner gets a notice instead and no code
 * exists: whoever asked learns nothing (the same 202 either way), and the owner learns someone tried.
 * Off the request path, like the reset.
 */
export async function mailEmailConfirmation(
  deps: EmailConfirmationDeps,
  user: UserRecord,
  email: string,
  kind: ConfirmationKind,
  audit: AuditContext,
): Promise<ConfirmationOutcome> {
  const now = new Date(deps.now());
  const purpose: EmailCodePurpose = kind === 'change' ? 'email_change' : 'email_verification';
  const requested = (outcome: 'success' | 'failure', reason: string) =>
    auditRecord(audit, { event: 'email.confirmation_requested', outcome, reason, actorId: null, subjectId: user.id }, now);
  if ((await deps.accountMailLimit(purpose, user.id)) !== undefined) {
    await deps.recordAudit(requested('failure', 'throttled'));
    return 'throttled';
  }
  const holder = await deps.users.findByVerifiedEmailKey(keyOfStoredEmail(email));
  if (holder !== undefined && holder.id !== user.id) {
    await deps.recordAudit(requested('failure', 'address_in_use'));
    await deps.mailer.send(emailInUseNotice({ to: email, issuer: deps.issuer }));
    return 'address_in_use';
  }
  const { code, digest } = newEmailCode();
  await deps.codes.issue(
    { digest, userId: user.id, purpose, email, passwordFingerprint: null, createdAt: now, expiresAt: new Date(now.getTime() + EMAIL_CODE_TTL_MS) },
    [requested('success', kind)],
  );
  const input = { to: email, username: user.username, issuer: deps.issuer, code, ttlMinutes: EMAIL_CODE_TTL_MS / 60_000 };
  await deps.mailer.send(emailConfirmationMail({ ...input, change: kind === 'change' }));
  return 'mailed';
}

/** POST /auth/email/verification: the link again, for an account whose address is still unconfirmed. */
export async function resendEmailConfirmation(deps: EmailConfirmationDeps, user: UserRecord | undefined, audit: AuditContext): Promise<ConfirmationOutcome> {
  if (user === undefined || user.email === null || user.emailVerifiedAt !== null) {
    const reason = user === undefined || user.email === null ? 'no_account' : 'already_confirmed';
    await deps.recordAudit(
      auditRecord(
        audit,
        { event: 'email.confirmation_requested', outcome: 'failure', reason, actorId: null, subjectId: user?.id ?? null },
        new Date(deps.now()),
      ),
    );
    return reason;
  }
  return mailEmailConfirmation(deps, user, user.email, 'resend', audit);
}

/**
 * An address change asked for by a signed-in user who proved the password: the link goes to the new
 * address (it takes effect when confirmed), a notice to the old one, if any. The old address stays
 * the account's until then, so a session thief cannot move the account away unseen.
 */
export async function mailEmailChange(deps: EmailConfirmationDeps, user: UserRecord, email: string, audit: AuditContext): Promise<ConfirmationOutcome> {
  const outcome = await mailEmailConfirmation(deps, user, email, 'change', audit);
  if (outcome !== 'throttled' && user.email !== null && keyOfStoredEmail(user.email) !== keyOfStoredEmail(email)) {
    await deps.mailer.send(emailChangeNotice({ to: user.email, username: user.username, issuer: deps.issuer }));
  }
  return outcome;
}

/**
 * POST /auth/email/confirm: the mailed code makes its address the account's confirmed one. Consumed
 * in one transaction with the update and the audit row. A registration's code confirms only the
 * address it was mailed to (not one changed since); a change's code replaces the address, and the
 * reset codes mailed to the old one die with it. InvalidCodeError for a dead code; EmailTakenError
 * when another account confirmed the address first.
 */
export async function confirmEmail(deps: EmailConfirmationDeps, presented: string, audit: AuditContext): Promise<{ readonly userId: string }> {
  const now = new Date(deps.now());
  const refuse = async (reason: string, subjectId: string | null): Promise<never> => {
    await deps.recordAudit(auditRecord(audit, { event: 'email.confirmation_refused', outcome: 'failure', reason, actorId: null, subjectId }, now));
    throw reason === 'address_in_use' ? new EmailTakenError() : new InvalidCodeError(reason);
  };
  const digest = digestEmailCode(presented);
  if (digest === undefined) return refuse('malformed_code', null);
  const code = (await deps.codes.find(digest, 'email_verification', now)) ?? (await deps.codes.find(digest, 'email_change', now));
  if (code === undefined) return refuse('unknown_used_or_expired', null);
  const confirmed = auditRecord(
    audit,
    { event: 'email.confirmed', outcome: 'success', reason: code.purpose, actorId: code.userId, subjectId: code.userId },
    now,
  );
  try {
    await deps.revocations.atomically(async ({ stores }) => {
      if ((await stores.emailCodes.consume(digest, code.purpose, now)) === undefined) throw new InvalidCodeError('used_concurrently');
      const expected = code.purpose === 'email_verification' ? code.email : undefined;
      if (!(await stores.users.confirmEmail(code.userId, code.email, expected, now, [confirmed]))) throw new InvalidCodeError('address_changed_since');
      if (code.purpose === 'email_change') await stores.emailCodes.discardOfUser(code.userId, 'password_reset');
    });
  } catch (error) {
    if (error instanceof InvalidCodeError) return refuse(error.logReason ?? 'invalid_code', code.userId);
    if (error instanceof EmailTakenError) return refuse('address_in_use', code.userId);
    throw error;
  }
  return { userId: code.userId };
}
