import { randomBytes } from 'node:crypto';
import { crc32 } from 'node:zlib';

/**
 * API keys look like GitHub's tokens: a prefix a secret scanner can match (`ghk_`), then the key
 * id, the secret and a CRC32 of everything before it, all base62. The checksum lets a scanner (and
 * this parser) tell a real key from a random string offline, without a database.
 *
 *   ghk_ <key id: 17> <secret: 43> <crc32: 6>   = 70 characters
 *
 * The widths are fixed (left-padded) so a key's parts are found by position, never by a
 * separator an attacker could repeat. Fixed-width base62 is a few lines over BigInt; base-x and
 * friends encode variable widths, which is the one thing this format must not do.
 */
export const API_KEY_PREFIX = 'ghk_';
const ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const KEY_ID_BYTES = 12; // 96 bits: ids are random, so they say nothing about how many keys exist
const SECRET_BYTES = 32; // 256 bits
const KEY_ID_CHARS = 17; // ceil(96 / log2 62)
const SECRET_CHARS = 43; // ceil(256 / log2 62)
const CHECKSUM_CHARS = 6; // ceil(32 / log2 62)
export const API_KEY_LENGTH = API_KEY_PREFIX.length + KEY_ID_CHARS + SECRET_CHARS + CHECKSUM_CHARS;
const SHAPE = new RegExp(`^${API_KEY_PREFIX}[0-9A-Za-z]{${API_KEY_LENGTH - API_KEY_PREFIX.length}}$`);

function base62(value: bigint, width: number): string {
  let out = '';
  for (let v = value; v > 0n; v /= 62n) out = ALPHABET[Number(v % 62n)]! + out;
  if (out.length > width) throw new RangeError('value too wide');
  return out.padStart(width, '0');
}

const toBigInt = (bytes: Uint8Array) => BigInt(`0x${Buffer.from(bytes).toString('hex') || '0'}`);
const checksumOf = (body: string) => base62(BigInt(crc32(body)), CHECKSUM_CHARS);

export interface ApiKeyParts {
  /** Public: how the key is looked up and shown in lists. */
  readonly keyId: string;
  /** Only its keyed digest is stored. */
  readonly secret: string;
}

export interface MintedApiKey extends ApiKeyParts {
  /** What the owner is shown once, at creation. */
  readonly token: string;
}

export function mintApiKey(): MintedApiKey {
  const keyId = base62(toBigInt(randomBytes(KEY_ID_BYTES)), KEY_ID_CHARS);
  const secret = base62(toBigInt(randomBytes(SECRET_BYTES)), SECRET_CHARS);
  return { keyId, secret, token: formatApiKey(keyId, secret) };
}

/** The presented form of a key id and secret (with its checksum). */
export function formatApiKey(keyId: string, secret: string): string {
  const body = `${API_KEY_PREFIX}${keyId}${secret}`;
  return body + checksumOf(body);
}

/** Whether a presented credential claims to be an API key (it may still be malformed). */
export const claimsApiKey = (credential: string): boolean => credential.startsWith(API_KEY_PREFIX);

/** The key's parts, or undefined for anything that is not a well-formed key with a correct checksum. */
export function parseApiKey(token: string): ApiKeyParts | undefined {
  if (!SHAPE.test(token)) return undefined;
  const body = token.slice(0, -CHECKSUM_CHARS);
  if (checksumOf(body) !== token.slice(-CHECKSUM_CHARS)) return undefined;
  const start = API_KEY_PREFIX.length;
  return { keyId: token.slice(start, start + KEY_ID_CHARS), secret: token.slice(start + KEY_ID_CHARS, start + KEY_ID_CHARS + SECRET_CHARS) };
}
