import { ValidationError } from '../errors/errors.js';

const USERNAME = /^[\p{L}\p{Nd}._-]{3,64}$/u;

export interface NormalizedUsername {
  /** What the user typed, NFKC-normalised: shown back to them. */
  readonly display: string;
  /** NFKC + lower case: the uniqueness and lookup key ("Alice" and "ＡＬＩＣＥ" are one account). */
  readonly key: string;
}

/** Lookup key for any candidate username, valid or not (login must not reveal which rule failed). */
export function usernameKey(raw: string): string {
  return raw.normalize('NFKC').toLowerCase().normalize('NFKC');
}

/**
 * Normalises and validates a username: 3–64 characters after NFKC, letters, digits, ".", "_", "-".
 * Throws ValidationError naming the field.
 */
export function normalizeUsername(raw: string, field = 'username'): NormalizedUsername {
  const display = raw.normalize('NFKC');
  if (!USERNAME.test(display)) {
    throw new ValidationError([{ field, message: 'must be 3-64 characters: letters, digits, ".", "_" or "-"' }]);
  }
  return { display, key: usernameKey(display) };
}
