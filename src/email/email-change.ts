import { auditRecord, type AuditContext, type AuditRecord } from '../audit/audit-event.js';
import { CurrentPasswordWrongError, InvalidTokenError } from '../errors/errors.js';
import type { PasswordHashing } from '../users/password-hashing.js';
import type { UserRecord, UserStore } from '../users/user-store.js';
import { normalizeEmail } from './email-address.js';

export interface EmailChangeCheckDeps {
  readonly users: Pick<UserStore, 'findById'>;
  readonly hasher: PasswordHashing;
  readonly recordAudit: (record: AuditRecord) => Promise<void>;
  readonly now: () => number;
}

const MAX_PASSWORD_BYTES = 1024;

/**
 * The part of POST /me/email that the caller waits for: the current password, proved again in the
 * request (a fresh sign-in: a stolen session alone cannot move the account's mail away), and the
 * new address's syntax. Throws CurrentPasswordWrongError (audited) or ValidationError; returns the
 * user and the normalised address for the mailing, which runs off the request path.
 */
/** A service account has no password to prove: refused like a wrong one, after the same hashing work. */
async function provesPassword(hasher: EmailChangeCheckDeps['hasher'], hash: string | null, password: string): Promise<boolean> {
  if (Buffer.byteLength(password, 'utf8') > MAX_PASSWORD_BYTES) return false;
  if (hash === null) {
    await hasher.dummyVerify(password);
    return false;
  }
  return hasher.verify(hash, password);
}

export async function checkEmailChange(
  deps: EmailChangeCheckDeps,
  caller: { readonly subject: string; readonly sessionId?: string | undefined },
  input: { readonly email: string; readonly currentPassword: string },
  audit: AuditContext,
): Promise<{ readonly user: UserRecord; readonly email: string }> {
  const user = await deps.users.findById(caller.subject);
  if (user === undefined) throw new InvalidTokenError('subject no longer exists');
  const proved = await provesPassword(deps.hasher, user.passwordHash, input.currentPassword);
  if (!proved) {
    await deps.recordAudit(
      auditRecord(
        audit,
        {
          event: 'email.confirmation_requested',
          outcome: 'failure',
          reason: 'wrong_password',
          actorId: user.id,
          subjectId: user.id,
          sessionId: caller.sessionId ?? null,
        },
        new Date(deps.now()),
      ),
    );
    throw new CurrentPasswordWrongError();
  }
  return { user, email: normalizeEmail(input.email).email };
}
