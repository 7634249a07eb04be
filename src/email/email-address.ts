import { z } from 'zod';
import { ValidationError } from '../errors/errors.js';

/** An address as stored (`email`) and as compared (`key`). */
export interface EmailAddress {
  /** NFKC, trimmed, the domain in lower case (RFC 5321 §2.4: it is case-insensitive); the local part as typed. */
  readonly email: string;
  /**
   * The whole address in lower case: what uniqueness and look-ups compare. RFC 5321 lets a server
   * tell `Alice@` from `alice@`, but no mail service does, and two accounts that differ only so
   * would be one mailbox.
   */
  readonly key: string;
}

const emailSchema = z.email();

/** Throws ValidationError (`field`) for anything that is not one plain address of at most 254 characters. */
export function normalizeEmail(raw: string, field = 'email'): EmailAddress {
  const email = raw.normalize('NFKC').trim();
  if (email.length > 254 || !emailSchema.safeParse(email).success) {
    throw new ValidationError([{ field, message: 'must be a valid email address' }]);
  }
  const at = email.lastIndexOf('@');
  const stored = `${email.slice(0, at)}@${email.slice(at + 1).toLowerCase()}`;
  return Object.freeze({ email: stored, key: keyOfStoredEmail(stored) });
}

/** The key of an address already normalised (as stored). */
export function keyOfStoredEmail(email: string): string {
  return email.toLowerCase();
}

/** The key of what a caller typed, or undefined when it cannot be any account's address (no error: see the reset request). */
export function emailKeyOf(raw: string): string | undefined {
  try {
    return normalizeEmail(raw).key;
  } catch {
    return undefined;
  }
}
