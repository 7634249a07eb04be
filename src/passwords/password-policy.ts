/**
 * Password acceptance rules of NIST SP 800-63B-4 §3.1.1.2: a minimum length, a generous maximum,
 * a blocklist of "commonly used, expected or compromised" values (the list, the list's words with
 * digits or symbols around them, repetitive and sequential characters, the service's and the
 * account's names) and nothing else. Composition rules ("must contain a digit") and periodic
 * expiry are deliberately absent: the standard forbids them.
 */
import { SETTINGS } from '../config/settings.js';
import { PasswordPolicyError } from '../errors/errors.js';
import type { PasswordRejection } from '../errors/errors.js';
import { isCommonPassword } from './common-passwords.js';
import { dominantPattern, mostFrequentCount, repeatingUnit } from './password-patterns.js';

export interface PasswordPolicyOptions {
  /** Minimum length in Unicode code points after NFKC. Default 15; 8 to 64. */
  minLength?: number;
  /** Maximum UTF-8 length in bytes after NFKC. Default 1024; at least 256 (64 four-byte characters). */
  maxBytes?: number;
}

export interface PasswordContext {
  /** The account's username; a password containing it is rejected. */
  username?: string | undefined;
  /** The account's email; a password made mostly of its local part (or parts of it) is rejected. */
  email?: string | null | undefined;
  /** The request field named in the error. Default `'password'`. */
  field?: string | undefined;
}

/** NIST: at least 15 for a password used alone, never fewer than 8. */
// Written once, in the settings table (GATEHOUSE_PASSWORD_MIN_LENGTH).
const DEFAULT_MIN_LENGTH = SETTINGS.GATEHOUSE_PASSWORD_MIN_LENGTH.fallback;
const FLOOR_MIN_LENGTH = 8;
/** NIST: verifiers SHOULD accept at least 64 characters. */
const REQUIRED_MAX_CHARACTERS = 64;
const DEFAULT_MAX_BYTES = 1024;
/** A username shorter than this would reject too many unrelated passwords. */
const MIN_USERNAME_FOR_CHECK = 3;
// C0 controls and DEL: never typed on purpose, and NUL truncates in C-based stores and hashers.
// oxlint-disable-next-line no-control-regex -- matching control characters is this pattern's job
const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f]/;
/**
 * Characters that draw nothing: default-ignorables (zero-width space, joiners, Hangul fillers),
 * format characters, the blank Braille pattern. Not refused (Persian writes ZWNJ inside words), but
 * not counted: fifteen zero-width spaces are no password.
 */
const INVISIBLE = /[\p{Default_Ignorable_Code_Point}\p{Cf}\u2800]/gu;
const ONLY_WHITESPACE = /^\p{White_Space}*$/u;
/** Digits, symbols and spaces around a word: "!!password2024" is "password" to a cracker's rules. */
const AFFIXES = /^[^\p{L}]+|[^\p{L}]+$/gu;
const WHITESPACE = /\p{White_Space}+/gu;
/** Always part of the context: NIST names "the name of the service". */
const SERVICE_NAME = 'gatehouse';

function resolveOptions(options: PasswordPolicyOptions): Required<PasswordPolicyOptions> {
  const minLength = options.minLength ?? DEFAULT_MIN_LENGTH;
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_BYTES;
  if (!Number.isInteger(minLength) || minLength < FLOOR_MIN_LENGTH || minLength > REQUIRED_MAX_CHARACTERS) {
    throw new TypeError(`minLength must be an integer from ${FLOOR_MIN_LENGTH} to ${REQUIRED_MAX_CHARACTERS}`);
  }
  if (!Number.isInteger(maxBytes) || maxBytes < REQUIRED_MAX_CHARACTERS * 4) {
    throw new TypeError(`maxBytes must be an integer of at least ${REQUIRED_MAX_CHARACTERS * 4}`);
  }
  return { minLength, maxBytes };
}

/** NFKC then lower case: how passwords are compared with the blocklist and the username. */
function fold(value: string): string {
  return value.normalize('NFKC').toLowerCase();
}

/** The service name, the username and the email's local part, whole and in parts ("bob.smith" → "bob", "smith"). */
function contextWords(username: string, email: string | null | undefined): string[] {
  const local = email === undefined || email === null ? '' : fold(email.slice(0, Math.max(0, email.lastIndexOf('@'))));
  const words = [SERVICE_NAME, username, local, ...`${username} ${local}`.split(/[^\p{L}\p{N}]+/u)];
  return [...new Set(words.filter((w) => w.length > 0))];
}

/**
 * Throws `PasswordPolicyError` when `password` may not be chosen; returns when it may.
 * Every message describes the rule and is safe to show the user: none echoes the password.
 * Length is counted in visible code points after NFKC, the form `PasswordHasher` hashes; the
 * refusing rule is also the error's `logReason`.
 *
 * @example
 * checkPassword(body.new_password, { username: user.username, field: 'new_password' });
 */
export function checkPassword(password: unknown, context: PasswordContext = {}, options: PasswordPolicyOptions = {}): void {
  const { minLength, maxBytes } = resolveOptions(options);
  const field = context.field ?? 'password';
  const reject = (rejection: PasswordRejection, message: string): never => {
    throw new PasswordPolicyError(rejection, message, field);
  };

  if (typeof password !== 'string' || password.length === 0) {
    return reject('invalid', 'password is required');
  }
  const normalized = password.normalize('NFKC');
  if (CONTROL_CHARACTERS.test(normalized)) {
    return reject('invalid', 'password contains control characters');
  }
  const visible = normalized.replace(INVISIBLE, '');
  if (ONLY_WHITESPACE.test(visible)) {
    return reject('invisible', 'password must contain visible characters');
  }
  // Code points, not UTF-16 units: an emoji is one character to the person typing it.
  if ([...visible].length < minLength) {
    return reject('too_short', `password must be at least ${minLength} characters`);
  }
  if (Buffer.byteLength(normalized, 'utf8') > maxBytes) {
    return reject('too_long', `password must be at most ${maxBytes} bytes`);
  }
  const folded = visible.toLowerCase();
  const chars = [...folded];
  if (isCommonPassword(folded) || isCommonPassword(folded.replace(AFFIXES, '')) || isCommonPassword(folded.replace(WHITESPACE, ''))) {
    return reject('common', 'password is too common; choose one that is not on lists of breached passwords');
  }
  const username = context.username === undefined ? '' : fold(context.username);
  if ([...username].length >= MIN_USERNAME_FOR_CHECK && folded.includes(username)) {
    return reject('contains_username', 'password must not contain the username');
  }
  if (mostFrequentCount(chars) * 2 > chars.length || repeatingUnit(chars) < minLength) {
    return reject('repetitive', 'password must not be mostly one character or one short pattern repeated');
  }
  const pattern = dominantPattern(chars, contextWords(username, context.email));
  if (pattern === 'repetitive') return reject('repetitive', 'password must not be mostly repeated characters');
  if (pattern === 'sequential') return reject('sequential', 'password must not be mostly a sequence such as "12345", "abcde" or a keyboard row');
  if (pattern === 'context') return reject('context', 'password must not be mostly the name of this service or of the account');
}
