import { createHash, randomInt } from 'node:crypto';

/** Issue 18: ten codes a set. */
export const RECOVERY_CODE_COUNT = 10;
/** 20 characters of a 32-letter alphabet: 100 bits, past the 80 the issue asks for; no attempt counter could matter. */
const CODE_LENGTH = 20;
const ALPHABET = 'abcdefghijklmnopqrstuvwxyz234567';
const NORMALISED = /^[a-z2-7]{20}$/;

/** A fresh code, grouped by five for reading it off paper: `abcde-fghij-klmno-pqrst`. */
function newRecoveryCode(): string {
  let plain = '';
  for (let i = 0; i < CODE_LENGTH; i += 1) plain += ALPHABET[randomInt(ALPHABET.length)];
  return plain.match(/.{5}/g)?.join('-') ?? plain;
}

/** A new set: the codes (shown once) and their digests (all the database keeps). */
export function newRecoveryCodeSet(): { readonly codes: readonly string[]; readonly digests: readonly string[] } {
  const codes = Array.from({ length: RECOVERY_CODE_COUNT }, newRecoveryCode);
  return { codes, digests: codes.map((c) => digestOf(c.replaceAll('-', ''))) };
}

/**
 * The digest of a presented code, as typed (any case, dashes or spaces anywhere); undefined for
 * anything that cannot be a code, never a query for it. A plain SHA-256 is enough: 100 random bits
 * cannot be searched from the digest.
 */
export function digestRecoveryCode(presented: string): string | undefined {
  const normalised = presented.toLowerCase().replace(/[\s-]/g, '');
  return NORMALISED.test(normalised) ? digestOf(normalised) : undefined;
}

function digestOf(normalised: string): string {
  return createHash('sha256').update('gatehouse recovery code\0').update(normalised, 'utf8').digest('base64url');
}
