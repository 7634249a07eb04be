import { createCipheriv, createDecipheriv, createHash, hkdfSync, randomBytes } from 'node:crypto';
import type { JWK } from 'jose';
import { GENERATE_SECRET, looksLikePlaceholder } from '../config/weak-secret.js';

/** The variable that holds the key-encryption key; named in every message about it. */
export const KEK_VARIABLE = 'GATEHOUSE_KEY_ENCRYPTION_KEY';

const KEK_BYTES = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;
const FORMAT = 'v1';

/** A key-encryption key, decoded and checked; `id` names it without revealing it. */
export interface KeyEncryptionKey {
  readonly id: string;
  readonly bytes: Buffer;
}

/**
 * Checks a GATEHOUSE_KEY_ENCRYPTION_KEY value: base64url of at least 256 random bits. Returns the
 * problem (without the value) or undefined. Placeholders and low-entropy values are refused, since
 * the whole point is that a copy of the database cannot sign tokens.
 */
export function keyEncryptionKeyProblem(value: string): string | undefined {
  if (!/^[A-Za-z0-9_-]+={0,2}$/.test(value)) return `must be base64url (letters, digits, "-", "_"); generate one with: ${GENERATE_SECRET}`;
  const bytes = Buffer.from(value, 'base64url');
  if (bytes.length < KEK_BYTES) return `must decode to at least ${KEK_BYTES} bytes (256 bits); got ${bytes.length}`;
  if (looksLikePlaceholder(value)) return `looks like a placeholder; generate a random one: ${GENERATE_SECRET}`;
  // 32 random bytes have about 28 distinct values; repeated patterns have a handful.
  if (new Set(bytes).size < 16) return 'is not random enough (repeated bytes); generate a random one';
  return undefined;
}

/** Decodes a value {@link keyEncryptionKeyProblem} accepted; throws TypeError otherwise (a caller bug). */
export function parseKeyEncryptionKey(value: string): KeyEncryptionKey {
  const problem = keyEncryptionKeyProblem(value);
  if (problem !== undefined) throw new TypeError(`${KEK_VARIABLE} ${problem}`);
  const material = Buffer.from(value, 'base64url');
  // Every byte given counts (a longer key is not cut to 32 bytes): the AES key is derived by HKDF.
  const bytes = Buffer.from(hkdfSync('sha256', material, Buffer.alloc(0), 'gatehouse key-encryption key v1', KEK_BYTES));
  const id = createHash('sha256').update('gatehouse key-encryption key id\0').update(material).digest('base64url').slice(0, 12);
  return Object.freeze({ id, bytes });
}

/** Why a sealed private key did not open. `wrong_kek`: sealed under another KEK; `tampered`: authentication failed. */
export class KeyUnsealError extends Error {
  readonly reason: 'wrong_kek' | 'tampered' | 'malformed';
  readonly kid: string;
  constructor(kid: string, reason: KeyUnsealError['reason'], message: string) {
    super(message);
    this.name = 'KeyUnsealError';
    this.kid = kid;
    this.reason = reason;
  }
}

// The kid and alg are authenticated data: a row cannot take another row's ciphertext.
const aad = (kid: string, alg: string): Buffer => Buffer.from(`gatehouse signing key ${FORMAT}\0${kid}\0${alg}`, 'utf8');

/**
 * `v1.<kek id>.<iv>.<ciphertext‖tag>`, base64url parts: AES-256-GCM over `plain`, with `associated`
 * authenticated (what the sealed value belongs to, so it cannot be moved to another row). Shared by
 * the stored signing keys and the TOTP secrets (src/factors).
 */
export function sealUnderKek(kek: KeyEncryptionKey, associated: Buffer, plain: Buffer): string {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', kek.bytes, iv);
  cipher.setAAD(associated);
  const body = Buffer.concat([cipher.update(plain), cipher.final(), cipher.getAuthTag()]);
  return [FORMAT, kek.id, iv.toString('base64url'), body.toString('base64url')].join('.');
}

/** What {@link openUnderKek} found: the plaintext, or why it did not open (`kekId`: the KEK it was sealed under). */
export type Unsealed =
  { readonly plain: Buffer } | { readonly problem: 'malformed' } | { readonly problem: 'wrong_kek'; readonly kekId: string } | { readonly problem: 'tampered' };

/** Opens what {@link sealUnderKek} sealed with the same associated data. */
export function openUnderKek(kek: KeyEncryptionKey, associated: Buffer, sealed: string): Unsealed {
  const parts = sealed.split('.');
  const [format, kekId, ivText, bodyText] = parts;
  if (parts.length !== 4 || format !== FORMAT || kekId === undefined || ivText === undefined || bodyText === undefined) return { problem: 'malformed' };
  if (kekId !== kek.id) return { problem: 'wrong_kek', kekId };
  const iv = Buffer.from(ivText, 'base64url');
  const body = Buffer.from(bodyText, 'base64url');
  try {
    if (iv.length !== IV_BYTES || body.length <= TAG_BYTES) throw new Error('short');
    const decipher = createDecipheriv('aes-256-gcm', kek.bytes, iv);
    decipher.setAAD(associated);
    decipher.setAuthTag(body.subarray(body.length - TAG_BYTES));
    return { plain: Buffer.concat([decipher.update(body.subarray(0, body.length - TAG_BYTES)), decipher.final()]) };
  } catch {
    return { problem: 'tampered' };
  }
}

/** `v1.<kek id>.<iv>.<ciphertext‖tag>`, base64url parts: AES-256-GCM over the private JWK's JSON. */
export function sealPrivateJwk(kek: KeyEncryptionKey, jwk: JWK & { kid: string; alg: string }): string {
  return sealUnderKek(kek, aad(jwk.kid, jwk.alg), Buffer.from(JSON.stringify(jwk), 'utf8'));
}

/** Opens what {@link sealPrivateJwk} sealed for this kid and alg, or throws {@link KeyUnsealError}. */
export function openPrivateJwk(kek: KeyEncryptionKey, kid: string, alg: string, sealed: string): JWK & { kid: string; alg: string } {
  const opened = openUnderKek(kek, aad(kid, alg), sealed);
  if ('problem' in opened) {
    switch (opened.problem) {
      case 'malformed':
        throw new KeyUnsealError(kid, 'malformed', `signing key ${kid}: the sealed private key is not in the ${FORMAT} format`);
      case 'wrong_kek':
        throw new KeyUnsealError(
          kid,
          'wrong_kek',
          `signing key ${kid} was sealed under key-encryption key ${opened.kekId}, but ${KEK_VARIABLE} is ${kek.id}: wrong ${KEK_VARIABLE}`,
        );
      case 'tampered':
        throw new KeyUnsealError(
          kid,
          'tampered',
          `signing key ${kid}: the sealed private key fails authentication (altered in the store, or moved from another row)`,
        );
    }
  }
  const jwk = JSON.parse(opened.plain.toString('utf8')) as JWK & { kid: string; alg: string };
  if (jwk.kid !== kid || jwk.alg !== alg) throw new KeyUnsealError(kid, 'tampered', `signing key ${kid}: the sealed private key names another kid or alg`);
  return jwk;
}
