import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { keyEncryptionKeyProblem } from '../keys/key-encryption.js';

export const PEPPER_VARIABLE = 'GATEHOUSE_API_KEY_PEPPER';
export const DEVELOPMENT_PEPPER_FILE = 'api-key-pepper';

/** A pepper's problem, if any: the same rules as the key-encryption key (base64url, ≥ 32 random bytes, no placeholder). */
export const pepperProblem = keyEncryptionKeyProblem;

/** A stored digest and the pepper it was made with, so the pepper can rotate without losing keys. */
export interface PepperedDigest {
  readonly digest: string;
  readonly pepperId: string;
}

/**
 * The API key digests: HMAC-SHA-256 under a server pepper that the database never holds, so a
 * copy of the database (or its backup) cannot use a key, nor test guesses offline. The first pepper
 * digests new keys; the others still verify keys made under them until the owners rotate.
 */
export interface ApiKeyPeppers {
  digest(secret: string): PepperedDigest;
  /** Constant-time; false for a digest under a pepper this server no longer has. */
  matches(secret: string, stored: PepperedDigest): boolean;
}

interface Pepper {
  readonly id: string;
  readonly bytes: Buffer;
}

const hmac = (pepper: Pepper, secret: string): Buffer => createHmac('sha256', pepper.bytes).update(secret, 'utf8').digest();

/** Throws TypeError for an empty list or a weak pepper (loadConfig has refused those already). */
export function apiKeyPeppers(values: readonly string[]): ApiKeyPeppers {
  if (values.length === 0) throw new TypeError(`${PEPPER_VARIABLE}: at least one pepper is needed`);
  const peppers: Pepper[] = values.map((value) => {
    const problem = pepperProblem(value);
    if (problem !== undefined) throw new TypeError(`${PEPPER_VARIABLE} ${problem}`);
    const bytes = Buffer.from(value, 'base64url');
    // The id names the pepper in each row without revealing it: a hash under its own label.
    const id = createHash('sha256').update('gatehouse api key pepper id\0').update(bytes).digest('base64url').slice(0, 12);
    return { id, bytes };
  });
  const current = peppers[0]!;
  const byId = new Map(peppers.map((p) => [p.id, p]));
  return {
    digest: (secret) => ({ digest: hmac(current, secret).toString('base64url'), pepperId: current.id }),
    matches(secret, stored) {
      // An unknown pepper still costs one HMAC, so the answer's timing says nothing about the row.
      const pepper = byId.get(stored.pepperId);
      const computed = hmac(pepper ?? current, secret);
      const expected = Buffer.from(stored.digest, 'base64url');
      const equal = expected.length === computed.length && timingSafeEqual(expected, computed);
      return pepper !== undefined && equal;
    },
  };
}

/** Comma-separated list of peppers as the setting holds it. */
export function parsePepperList(raw: string): string[] {
  return raw
    .split(',')
    .map((v) => v.trim())
    .filter((v) => v.length > 0);
}
