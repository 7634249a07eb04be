import { LoginRefusedError } from '../errors/errors.js';
import type { PasswordHashing } from './password-hashing.js';
import type { UserRecord, UserStore } from './user-store.js';
import { usernameKey } from './username.js';

export interface PasswordLoginDeps {
  readonly users: UserStore;
  readonly hasher: PasswordHashing;
  readonly onRehashFailed?: (error: unknown) => void;
  /** GATEHOUSE_EMAIL_VERIFICATION=required: an account whose address is unconfirmed is refused like a wrong password. */
  readonly requireVerifiedEmail?: boolean;
}

/** Anything longer cannot be a password we accepted; refusing it early bounds the hashing work. */
const MAX_PASSWORD_BYTES = 1024;

/**
 * Checks a username and password. Every failure is the same InvalidGrantError (RFC 6749 §5.2; a
 * LoginRefusedError whose reason and subject only the log and the audit trail read),
 * and an unknown user costs one argon2 verification like a wrong password does, so neither the
 * body, the status nor the timing tells whether the account exists. The reason goes to the log.
 */
export async function verifyPasswordLogin(deps: PasswordLoginDeps, username: string, password: string): Promise<UserRecord> {
  if (Buffer.byteLength(password, 'utf8') > MAX_PASSWORD_BYTES) {
    await deps.hasher.dummyVerify('');
    throw new LoginRefusedError('password_too_long', null);
  }
  // Such names are no account's; a NUL is not even a question PostgreSQL answers (a query error, not "none").
  const couldExist = username.length <= 256 && !username.includes('\u0000');
  const user = couldExist ? await deps.users.findByUsernameKey(usernameKey(username)) : undefined;
  if (user === undefined) {
    await deps.hasher.dummyVerify(password);
    throw new LoginRefusedError('unknown_user', null);
  }
  if (user.passwordHash === null) {
    // A service account cannot sign in: the same answer and the same hashing work as a wrong password.
    await deps.hasher.dummyVerify(password);
    throw new LoginRefusedError('service_account', user.id);
  }
  if (!(await deps.hasher.verify(user.passwordHash, password))) throw new LoginRefusedError('wrong_password', user.id);
  if (user.disabledAt !== null) throw new LoginRefusedError('account_disabled', user.id);
  if (user.lockedAt !== null) throw new LoginRefusedError('account_locked', user.id);
  // After the password: only who knows it learns, and then only as much as a wrong password says.
  if (deps.requireVerifiedEmail === true && user.emailVerifiedAt === null) throw new LoginRefusedError('email_unverified', user.id);
  if (deps.hasher.needsRehash(user.passwordHash)) {
    // Upgrade legacy (bcrypt) or outdated argon2 parameters while we hold the plaintext.
    try {
      await deps.users.replacePasswordHash(user.id, user.passwordHash, await deps.hasher.hash(password));
    } catch (error) {
      deps.onRehashFailed?.(error);
    }
  }
  return user;
}
