import type { AuditRecord } from '../audit/audit-event.js';
import type { EmailCodePurpose } from './email-code.js';

/** A mailed code as stored: its digest, never the code. */
export interface EmailCode {
  readonly digest: string;
  readonly userId: string;
  readonly purpose: EmailCodePurpose;
  /** The address it was mailed to (for email_verification and email_change: the address it confirms). */
  readonly email: string;
  /** password_reset only: see passwordFingerprint. */
  readonly passwordFingerprint: string | null;
  readonly createdAt: Date;
  readonly expiresAt: Date;
}

export interface EmailCodeStore {
  /**
   * Stores `code` in place of the user's other codes of its purpose (only the latest mail works),
   * with `audit`, in one transaction.
   */
  issue(code: EmailCode, audit?: readonly AuditRecord[]): Promise<void>;
  /** The live (unexpired) code with this digest and purpose; reads only. */
  find(digest: string, purpose: EmailCodePurpose, now: Date): Promise<EmailCode | undefined>;
  /**
   * Deletes the live code and returns it, in one statement (`DELETE … RETURNING`): of two callers
   * presenting one code, exactly one gets it.
   */
  consume(digest: string, purpose: EmailCodePurpose, now: Date): Promise<EmailCode | undefined>;
  /** Deletes a code that can no longer be used (its password changed). */
  discard(digest: string): Promise<void>;
  /** Deletes every code of the user for `purpose` (the address reset codes went to is no longer theirs). */
  discardOfUser(userId: string, purpose: EmailCodePurpose): Promise<void>;
}
