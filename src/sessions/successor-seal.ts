import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';

/**
 * The refresh-grace seal: a successor refresh token encrypted under a key that only the holder of
 * the token it replaced can derive. The database keeps the seal next to the spent token's digest,
 * so a database reader (who has digests, never tokens) cannot open it, while a client repeating the
 * spent token within the grace window can be handed the same successor again.
 *
 * AES-256-GCM (authenticated: a tampered seal does not open), key = HKDF-SHA256 (RFC 5869) of the
 * spent token. HKDF without stretching is enough because the token carries 256 random bits; the
 * fixed salt and info name the purpose, so this key is unrelated to the token's SHA-256 digest.
 */

/** Names the format, so a later change of algorithm can still tell old seals apart. */
const PREFIX = 'gs1.';
const SALT = 'gatehouse/refresh-token/successor-seal';
const INFO = 'aes-256-gcm key v1';
const IV_BYTES = 12; // 96 bits: the GCM nonce size NIST SP 800-38D recommends.
const TAG_BYTES = 16;

function keyFrom(spentToken: string): Buffer {
  return Buffer.from(hkdfSync('sha256', Buffer.from(spentToken, 'utf8'), SALT, INFO, 32));
}

/**
 * Encrypts `successor` so that only `spentToken` opens it. Each call draws a fresh random IV, so
 * sealing the same pair twice gives different strings.
 *
 * @example
 * const sealed = sealSuccessor(presented, next); // "gs1.<base64url(iv | ciphertext | tag)>"
 */
export function sealSuccessor(spentToken: string, successor: string): string {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', keyFrom(spentToken), iv, { authTagLength: TAG_BYTES });
  const ciphertext = Buffer.concat([cipher.update(successor, 'utf8'), cipher.final()]);
  return PREFIX + Buffer.concat([iv, ciphertext, cipher.getAuthTag()]).toString('base64url');
}

/**
 * The successor sealed by {@link sealSuccessor}, or `undefined` when `spentToken` is not the token
 * it was sealed under or the seal is malformed or tampered with. Never throws on bad input: a seal
 * read from the database is data, not a programming error.
 *
 * @example
 * const successor = openSuccessor(presented, row.successorSealed); // string | undefined
 */
export function openSuccessor(spentToken: string, sealed: string): string | undefined {
  if (!sealed.startsWith(PREFIX)) return undefined;
  const body = sealed.slice(PREFIX.length);
  if (!/^[A-Za-z0-9_-]+$/.test(body)) return undefined;
  const raw = Buffer.from(body, 'base64url');
  if (raw.length <= IV_BYTES + TAG_BYTES) return undefined;
  try {
    const decipher = createDecipheriv('aes-256-gcm', keyFrom(spentToken), raw.subarray(0, IV_BYTES), { authTagLength: TAG_BYTES });
    decipher.setAuthTag(raw.subarray(raw.length - TAG_BYTES));
    const plain = Buffer.concat([decipher.update(raw.subarray(IV_BYTES, raw.length - TAG_BYTES)), decipher.final()]);
    return plain.toString('utf8');
  } catch {
    // GCM's tag check failed: wrong token or altered bytes. Indistinguishable on purpose.
    return undefined;
  }
}
