import { ValidationError } from '../errors/errors.js';

const USERNAME = /^[\p{L}\p{Nd}._-]{3,64}$/u;

const SCRIPTS = ['Latin', 'Greek', 'Cyrillic', 'Armenian', 'Hebrew', 'Arabic', 'Devanagari', 'Bengali', 'Thai', 'Georgian', 'Han', 'Hiragana', 'Katakana', 'Hangul', 'Bopomofo'] as const;
type Script = (typeof SCRIPTS)[number] | 'Other';
const SCRIPT_TESTS = SCRIPTS.map((name) => [name, new RegExp(`\\p{Script=${name}}`, 'u')] as const);

/** UTS 39 §5.2 "highly restrictive": these script mixes are normal writing (Japanese, Korean, Chinese). */
const ALLOWED_MIXES: readonly ReadonlySet<Script>[] = [
  new Set<Script>(['Latin', 'Han', 'Hiragana', 'Katakana']),
  new Set<Script>(['Latin', 'Han', 'Hangul']),
  new Set<Script>(['Latin', 'Han', 'Bopomofo']),
];

function scriptOf(letter: string): Script {
  return SCRIPT_TESTS.find(([, re]) => re.test(letter))?.[0] ?? 'Other';
}

/**
 * Whether the letters come from one script (or an allowed mix): "аlice" with a Cyrillic "а"
 * would otherwise be a second account that looks exactly like "alice".
 */
function isSingleScript(name: string): boolean {
  const scripts = new Set<Script>();
  for (const ch of name) if (/\p{L}/u.test(ch)) scripts.add(scriptOf(ch));
  if (scripts.size <= 1) return true;
  return ALLOWED_MIXES.some((mix) => [...scripts].every((s) => mix.has(s)));
}

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
  if (!isSingleScript(display)) throw new ValidationError([{ field, message: 'must not mix letters of different scripts' }]);
  return { display, key: usernameKey(display) };
}
