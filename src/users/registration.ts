import { randomUUID } from 'node:crypto';
import { auditRecord, NO_AUDIT_CONTEXT, type AuditContext } from '../audit/audit-event.js';
import { normalizeEmail } from '../email/email-address.js';
import { ValidationError } from '../errors/errors.js';
import { checkPassword } from '../passwords/password-policy.js';
import type { PasswordHashing } from './password-hashing.js';
import type { UserRecord, UserStore } from './user-store.js';
import { normalizeUsername } from './username.js';

export interface RegistrationInput {
  readonly username: string;
  readonly email?: string | null | undefined;
  readonly password: string;
}

export interface RegistrationDeps {
  readonly users: UserStore;
  readonly hasher: PasswordHashing;
  readonly passwordMinLength: number;
  /** GATEHOUSE_EMAIL_VERIFICATION=required: sign-in waits for a confirmed address, so there must be one. */
  readonly requireEmail?: boolean;
}

/**
 * Registers a user. Roles are never taken from the input: a registration cannot grant itself
 * privileges. Throws ValidationError, PasswordPolicyError or UsernameTakenError.
 */
export async function registerUser(deps: RegistrationDeps, input: RegistrationInput, audit: AuditContext = NO_AUDIT_CONTEXT): Promise<UserRecord> {
  const username = normalizeUsername(input.username);
  const given = input.email === undefined || input.email === null ? undefined : input.email;
  if (given === undefined && deps.requireEmail === true)
    throw new ValidationError([{ field: 'email', message: 'is required (the address is confirmed before sign-in)' }]);
  const email = given === undefined ? undefined : normalizeEmail(given);
  checkPassword(input.password, { username: username.display, email: email?.email ?? null }, { minLength: deps.passwordMinLength });
  const passwordHash = await deps.hasher.hash(input.password);
  // Uniqueness is decided by the store's unique index, not by a check-then-insert here.
  const id = randomUUID();
  const record = auditRecord(audit, { event: 'user.registered', outcome: 'success', actorId: id, subjectId: id }, new Date());
  return deps.users.create({ id, username: username.display, usernameKey: username.key, email: email?.email ?? null, passwordHash }, [record]);
}
