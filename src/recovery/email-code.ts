import { createHash, randomBytes } from 'node:crypto';

/** What a mailed code is for; a code of one purpose is never accepted for another. */
export type EmailCodePurpose = 'password_reset' | 'email_verification' | 'email_change';

/** Every mailed code lives this long (issue 18: 30 minutes). */
export const EMAIL_CODE_TTL_MS = 30 * 60_000;

/** 32 random bytes in base64url: 256 bits, far past guessing, so no attempt counter is needed. */
const CODE_BYTES = 32;
const CODE_SHAPE = /^[A-Za-z0-9_-]{43}$/;

/** A fresh code and the digest that is all the database keeps of it. */
export function newEmailCode(): { readonly code: string; readonly digest: string } {
  const code = randomBytes(CODE_BYTES).toString('base64url');
  return { code, digest: digestOf(code) };
}

/** The digest of a presented code; undefined for anything not code-shaped (never a query for it). */
export function digestEmailCode(code: string): string | undefined {
  return CODE_SHAPE.test(code) ? digestOf(code) : undefined;
}

function digestOf(code: string): string {
  return createHash('sha256').update(code, 'utf8').digest('base64url');
}

/**
 * What binds a reset code to the password it was issued under: the code dies when the hash changes
 * (a password change, another reset, a rehash at login). A digest, so the code table holds nothing
 * that could be attacked offline the way the hash could.
 */
export function passwordFingerprint(passwordHash: string): string {
  return createHash('sha256').update(passwordHash, 'utf8').digest('base64url');
}
