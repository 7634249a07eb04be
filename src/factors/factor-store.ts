import type { AuditRecord } from '../audit/audit-event.js';

export type FactorKind = 'totp';

/** A second factor as stored: the secret sealed (src/factors/totp-secret.ts), never in the clear. */
export interface FactorRecord {
  readonly id: string;
  readonly userId: string;
  readonly kind: FactorKind;
  readonly label: string;
  readonly sealedSecret: string;
  /** The last accepted time step; null before the first code. */
  readonly lastStep: number | null;
  readonly createdAt: Date;
  /** Null until a first code confirmed it: until then it is no second factor. */
  readonly confirmedAt: Date | null;
  readonly lastUsedAt: Date | null;
}

export interface FactorStore {
  /** Stores a new (unconfirmed) factor in place of the user's other unconfirmed ones, with `audit`, in one transaction. */
  insert(factor: FactorRecord, audit?: readonly AuditRecord[]): Promise<void>;
  find(id: string, userId: string): Promise<FactorRecord | undefined>;
  listOfUser(userId: string): Promise<FactorRecord[]>;
  /** Whether the user has a confirmed factor: the one question every password sign-in asks. */
  hasConfirmed(userId: string): Promise<boolean>;
  /**
   * The compare-and-set that accepts a code: `last_step` becomes `step` only where it is null or
   * below it (one statement), and `last_used_at` becomes `at`; true when this call moved it. Of two
   * callers presenting one code, on any instance, exactly one gets true.
   */
  acceptStep(id: string, step: number, at: Date): Promise<boolean>;
  /**
   * Confirms an unconfirmed factor with the step of its first code (compare-and-set on both
   * `confirmed_at IS NULL` and the step), and, when `recoveryDigests` is given, replaces the user's
   * recovery codes with them, with `audit`, in one transaction; false when nothing was confirmed.
   */
  confirm(id: string, userId: string, step: number, at: Date, recoveryDigests: readonly string[] | undefined, audit: readonly AuditRecord[]): Promise<boolean>;
  /** Deletes the factor; with the user's last confirmed factor gone, the recovery codes go too. False when there was none. */
  remove(id: string, userId: string, audit: readonly AuditRecord[]): Promise<boolean>;
  /** Deletes every factor and recovery code of the user, with `audit`, in one transaction; how many factors went. */
  removeAllOfUser(userId: string, audit: readonly AuditRecord[]): Promise<number>;
  /** One confirmed factor (id, sealed secret) per KEK id its secret names: what `serve` opens at start. */
  sealedSamples(): Promise<readonly { readonly id: string; readonly sealedSecret: string }[]>;
  /** The user's recovery codes become exactly `digests` (the old set is gone), with `audit`, in one transaction. */
  replaceRecoveryCodes(userId: string, digests: readonly string[], at: Date, audit: readonly AuditRecord[]): Promise<void>;
  /** Deletes the user's code with this digest (`DELETE … RETURNING`): true for exactly one of any racing callers. */
  consumeRecoveryCode(userId: string, digest: string): Promise<boolean>;
  recoveryCodesLeft(userId: string): Promise<number>;
}
