import { ValidationError } from '../errors/errors.js';

const USERNAME = /^[\p{L}\p{Nd}._-]{3,64}$/u;

/**
 * UTS #39 §3.1: default-ignorable code points are invisible. The Hangul fillers are letters (Lo),
 * so they pass the character class above, and draw nothing: "alice" + U+3164 looks like "alice".
 * They are default-ignorable already; named here because they are the ones seen in attacks.
 */
const INVISIBLE = /[\p{Default_Ignorable_Code_Point}\u115f\u1160\u3164\uffa0]/u;

const SCRIPTS = [
  'Latin',
  'Greek',
  'Cyrillic',
  'Armenian',
  'Hebrew',
  'Arabic',
  'Devanagari',
  'Bengali',
  'Thai',
  'Georgian',
  'Han',
  'Hiragana',
  'Katakana',
  'Hangul',
  'Bopomofo',
] as const;
type Script = (typeof SCRIPTS)[number] | 'Other';
const SCRIPT_TESTS = SCRIPTS.map((name) => [name, new RegExp(`\\p{Script=${name}}`, 'u')] as const);
/** Characters of every script (ASCII digits, "."): they mix with any. */
const ANY_SCRIPT = /[\p{Script=Common}\p{Script=Inherited}]/u;

/** UTS 39 §5.2 "highly restrictive": these script mixes are normal writing (Japanese, Korean, Chinese). */
const ALLOWED_MIXES: readonly ReadonlySet<Script>[] = [
  new Set<Script>(['Latin', 'Han', 'Hiragana', 'Katakana']),
  new Set<Script>(['Latin', 'Han', 'Hangul']),
  new Set<Script>(['Latin', 'Han', 'Bopomofo']),
];

function scriptOf(ch: string): Script {
  return SCRIPT_TESTS.find(([, re]) => re.test(ch))?.[0] ?? 'Other';
}

/**
 * Whether the letters and digits come from one script (or an allowed mix): "аlice" with a Cyrillic
 * "а", or "b०b" with a Devanagari zero, would otherwise be a second account that looks like "alice".
 */
function isSingleScript(name: string): boolean {
  const scripts = new Set<Script>();
  for (const ch of name) if (/[\p{L}\p{Nd}]/u.test(ch) && !ANY_SCRIPT.test(ch)) scripts.add(scriptOf(ch));
  if (scripts.size <= 1) return true;
  return ALLOWED_MIXES.some((mix) => [...scripts].every((s) => mix.has(s)));
}

/**
 * The code point of a digit's zero. Unicode keeps every decimal digit set (Nd) as a run of ten code
 * points from 0 to 9 (UAX #44 §5.7.4), and some runs touch, so the zero is found from the start of
 * the whole run of Nd code points around the digit.
 */
function zeroOf(digit: number): number {
  let start = digit;
  while (start > 0 && /\p{Nd}/u.test(String.fromCodePoint(start - 1))) start--;
  return start + Math.floor((digit - start) / 10) * 10;
}

/** UTS #39 §5.3: digits of one numbering system only ("٣" and "۳" are two systems that look alike). */
function hasOneNumberingSystem(name: string): boolean {
  const zeros = new Set<number>();
  for (const ch of name) if (/\p{Nd}/u.test(ch)) zeros.add(zeroOf(ch.codePointAt(0)!));
  return zeros.size <= 1;
}

export interface NormalizedUsername {
  /** What the user typed, NFKC-normalised: shown back to them. */
  readonly display: string;
  /**
   * NFKC + lower case: the lookup key ("Alice" and "ＡＬＩＣＥ" are one account). Uniqueness also
   * follows its confusable skeletons (`usernameSkeletons(key)`), which the user store derives.
   */
  readonly key: string;
}

/** Lookup key for any candidate username, valid or not (login must not reveal which rule failed). */
export function usernameKey(raw: string): string {
  return raw.normalize('NFKC').toLowerCase().normalize('NFKC');
}

/**
 * Normalises and validates a username under the UTS #39 identifier rules: 3–64 characters after
 * NFKC, letters, digits, ".", "_", "-"; nothing invisible; one script (or a highly restrictive
 * mix); one numbering system. Throws ValidationError naming the field.
 */
export function normalizeUsername(raw: string, field = 'username'): NormalizedUsername {
  const display = raw.normalize('NFKC');
  const refuse = (message: string): never => {
    throw new ValidationError([{ field, message }]);
  };
  if (!USERNAME.test(display)) refuse('must be 3-64 characters: letters, digits, ".", "_" or "-"');
  if (INVISIBLE.test(display)) refuse('must not contain invisible characters');
  if (!isSingleScript(display)) refuse('must not mix letters or digits of different scripts');
  if (!hasOneNumberingSystem(display)) refuse('must not mix digits of different numbering systems');
  return { display, key: usernameKey(display) };
}
