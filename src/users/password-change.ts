import { auditRecord, type AuditContext, type AuditRecord } from '../audit/audit-event.js';
import { CurrentPasswordWrongError, PasswordChangedConcurrentlyError, InvalidTokenError } from '../errors/errors.js';
import { checkPassword } from '../passwords/password-policy.js';
import type { Revocations } from '../revocation/revocations.js';
import type { PasswordHashing } from './password-hashing.js';
import type { UserStore } from './user-store.js';

export interface PasswordChangeDeps {
  readonly users: Pick<UserStore, 'findById'>;
  readonly hasher: PasswordHashing;
  readonly revocations: Pick<Revocations, 'atomically'>;
  /** A refused change changes nothing, so its audit row is written on its own. */
  readonly recordAudit: (record: AuditRecord) => Promise<void>;
  readonly passwordMinLength: number;
  readonly now: () => number;
}

export interface PasswordChangeInput {
  readonly currentPassword: string;
  readonly newPassword: string;
}

const MAX_PASSWORD_BYTES = 1024;

/** Why the current password is refused, if it is. A service account has none: answered as a wrong one, after the same work. */
async function refusalOf(hasher: PasswordHashing, hash: string | null, current: string): Promise<'password_too_long' | 'wrong_password' | undefined> {
  if (Buffer.byteLength(current, 'utf8') > MAX_PASSWORD_BYTES) return 'password_too_long';
  if (hash === null) {
    await hasher.dummyVerify(current);
    return 'wrong_password';
  }
  return (await hasher.verify(hash, current)) ? undefined : 'wrong_password';
}

/**
 * Changes the caller's password and ends every other session (whoever holds the old password may
 * have logged in elsewhere). The caller's own session survives: its refresh token keeps working
 * and its access token stays valid, so the user is not logged out by securing the account.
 * Returns how many sessions were revoked.
 */
export async function changePassword(
  deps: PasswordChangeDeps,
  caller: { readonly subject: string; readonly sessionId?: string | undefined },
  input: PasswordChangeInput,
  audit: AuditContext,
): Promise<number> {
  const user = await deps.users.findById(caller.subject);
  if (user === undefined) throw new InvalidTokenError('subject no longer exists');
  const currentHash = user.passwordHash;
  const refusal = await refusalOf(deps.hasher, currentHash, input.currentPassword);
  if (refusal !== undefined || currentHash === null) {
    // Someone holding this session is guessing the password: the owner must be able to see it.
    const failed = auditRecord(
      audit,
      {
        event: 'user.password_change_failed',
        outcome: 'failure',
        reason: refusal ?? 'wrong_password',
        actorId: user.id,
        subjectId: user.id,
        sessionId: caller.sessionId ?? null,
      },
      new Date(deps.now()),
    );
    await deps.recordAudit(failed);
    throw new CurrentPasswordWrongError(refusal ?? 'wrong_password');
  }
  checkPassword(input.newPassword, { username: user.username, email: user.email, field: 'new_password' }, { minLength: deps.passwordMinLength });
  const nextHash = await deps.hasher.hash(input.newPassword);
  // Compare-and-set on the hash we verified: of two concurrent changes only one lands.
  const now = new Date(deps.now());
  const record = auditRecord(
    audit,
    { event: 'user.password_changed', outcome: 'success', actorId: user.id, subjectId: user.id, sessionId: caller.sessionId ?? null },
    now,
  );
  // One transaction: a crash between the two must not leave the new password working and the
  // sessions of whoever knew the old one alive.
  const revoked = await deps.revocations.atomically(async (unit) => {
    if (!(await unit.stores.users.replacePasswordHash(user.id, currentHash, nextHash, [record]))) throw new PasswordChangedConcurrentlyError();
    return unit.revokeSessionsOfUser(user.id, 'password_changed', now, caller.sessionId);
  });
  return revoked.length;
}
