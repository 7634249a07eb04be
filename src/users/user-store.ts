import type { AuditRecord } from '../audit/audit-event.js';

/** `person` signs in with a password; `service` (a service account) has none and cannot sign in. */
export type UserKind = 'person' | 'service';

/** A user as stored. `passwordHash` never leaves the core: HTTP views pick their fields explicitly. */
export interface UserRecord {
  readonly id: string;
  readonly kind: UserKind;
  readonly username: string;
  readonly email: string | null;
  /** When `email` was confirmed by a mailed code; null: unconfirmed (or no address). */
  readonly emailVerifiedAt: Date | null;
  /** Null exactly for a service account (the database's check holds it). */
  readonly passwordHash: string | null;
  readonly roles: readonly string[];
  readonly disabledAt: Date | null;
  /** Locked (security): like disabled, no login, no refresh, tokens dead. */
  readonly lockedAt: Date | null;
  /** Access tokens carrying an older version (`tver`) are dead: see `revokeAllTokens`. */
  readonly tokenVersion: number;
  readonly createdAt: Date;
  /**
   * Whether the account has a confirmed TOTP factor, read in the same statement as the record by
   * `findByUsernameKey` (every password sign-in's lookup), so a sign-in of an account without one
   * costs no second query. Absent from the other reads: unknown, and whoever needs it asks the
   * factor store (src/factors/mfa-sign-in.ts does).
   */
  readonly hasSecondFactor?: boolean;
  /**
   * Whether the account is a member of any tenant, read in that same statement, so the sign-in of
   * an account in no tenant skips reading its memberships. Absent elsewhere: unknown, read them.
   */
  readonly hasMemberships?: boolean;
}

export interface NewUser {
  readonly id: string;
  /** Default `person`. A service account has no password hash (null); a person always has one. */
  readonly kind?: UserKind;
  readonly username: string;
  readonly usernameKey: string;
  /** As normalizeEmail (src/email/email-address.ts) leaves it; the store derives its key. */
  readonly email: string | null;
  readonly passwordHash: string | null;
  /** The global roles it starts with (a service account is created with its roles); default none. */
  readonly roles?: readonly string[];
}

/**
 * Storage contract for users. Implementations must enforce uniqueness of `usernameKey` and of each
 * of its confusable skeletons (`usernameSkeletons(usernameKey)`, UTS #39) atomically: of two
 * concurrent `create` calls with one key or one skeleton, exactly one succeeds and the other
 * rejects with UsernameTakenError, the same error either way (a look-alike name is a taken name).
 */
export interface UserStore {
  /** `audit` rows are written in the same transaction, only if the user was created. */
  create(user: NewUser, audit?: readonly AuditRecord[]): Promise<UserRecord>;
  findById(id: string): Promise<UserRecord | undefined>;
  findByUsernameKey(key: string): Promise<UserRecord | undefined>;
  /** The account whose confirmed address has this key (at most one: see the schema); unconfirmed addresses are never found. */
  findByVerifiedEmailKey(key: string): Promise<UserRecord | undefined>;
  /** Replaces the hash only if it is still `expected` (a concurrent password change wins). */
  replacePasswordHash(id: string, expected: string, next: string, audit?: readonly AuditRecord[]): Promise<boolean>;
  /**
   * Sets `email` as the user's confirmed address, only while the address on file is still
   * `expectedCurrent` when that is given (a confirmation is for the address it was mailed to).
   * False when the user is gone or the address moved on; EmailTakenError when another account has
   * confirmed it meanwhile (the unique index decides, not a check before).
   */
  confirmEmail(id: string, email: string, expectedCurrent: string | undefined, now: Date, audit?: readonly AuditRecord[]): Promise<boolean>;
  delete(id: string): Promise<boolean>;
  /**
   * Bumps the user's token version (log out everywhere, lock, disable): every access token issued
   * before stops verifying. Returns the new version, or undefined for an unknown user.
   */
  revokeAllTokens(id: string, now: Date, audit?: readonly AuditRecord[]): Promise<number | undefined>;
}
