import { auditRecord, type AuditContext } from '../audit/audit-event.js';
import { CurrentPasswordWrongError, PasswordChangedConcurrentlyError, InvalidTokenError } from '../errors/errors.js';
import { checkPassword } from '../passwords/password-policy.js';
import type { Revocations } from '../revocation/revocations.js';
import type { PasswordHashing } from './password-hashing.js';
import type { UserStore } from './user-store.js';

export interface PasswordChangeDeps {
  readonly users: Pick<UserStore, 'findById' | 'replacePasswordHash'>;
  readonly hasher: PasswordHashing;
  readonly revocations: Pick<Revocations, 'revokeSessionsOfUser'>;
  readonly passwordMinLength: number;
  readonly now: () => number;
}

export interface PasswordChangeInput {
  readonly currentPassword: string;
  readonly newPassword: string;
}

const MAX_PASSWORD_BYTES = 1024;

/**
 * Changes the caller's password and ends every other session (whoever holds the old password may
 * have logged in elsewhere). The caller's own session survives: its refresh token keeps working
 * and its access token stays valid, so the user is not logged out by securing the account.
 * Returns how many sessions were revoked.
 */
export async function changePassword(
  deps: PasswordChangeDeps,
  caller: { userId: string; sessionId: string | undefined },
  input: PasswordChangeInput,
  audit: AuditContext,
): Promise<number> {
  const user = await deps.users.findById(caller.userId);
  if (user === undefined) throw new InvalidTokenError('subject no longer exists');
  if (Buffer.byteLength(input.currentPassword, 'utf8') > MAX_PASSWORD_BYTES || !(await deps.hasher.verify(user.passwordHash, input.currentPassword))) {
    throw new CurrentPasswordWrongError();
  }
  checkPassword(input.newPassword, { username: user.username, email: user.email, field: 'new_password' }, { minLength: deps.passwordMinLength });
  const nextHash = await deps.hasher.hash(input.newPassword);
  // Compare-and-set on the hash we verified: of two concurrent changes only one lands.
  const now = new Date(deps.now());
  const record = auditRecord(audit, { event: 'user.password_changed', outcome: 'success', actorId: user.id, subjectId: user.id, sessionId: caller.sessionId ?? null }, now);
  if (!(await deps.users.replacePasswordHash(user.id, user.passwordHash, nextHash, [record]))) throw new PasswordChangedConcurrentlyError();
  const revoked = await deps.revocations.revokeSessionsOfUser(user.id, 'password_changed', now, caller.sessionId);
  return revoked.length;
}
