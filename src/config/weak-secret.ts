/** Words people paste from examples. */
export const PLACEHOLDER_WORDS = /change|replace|placeholder|example|secret|password|dummy|sample|todo|xxxx/gi;

const LONG_WORD = 6;

/**
 * Whether a value reads as an example pasted in rather than a generated secret. A random base64url
 * string of 43 characters contains a four-letter word such as "todo" about once in ten thousand
 * draws, so a short word alone does not condemn it: a long word does (one in millions by chance),
 * or placeholder words making up a quarter of the value.
 */
export function looksLikePlaceholder(value: string): boolean {
  let covered = 0;
  for (const match of value.matchAll(PLACEHOLDER_WORDS)) {
    if (match[0].length >= LONG_WORD) return true;
    covered += match[0].length;
  }
  return covered * 4 >= value.length;
}

/** The command every message about a weak secret suggests. */
export const GENERATE_SECRET = 'openssl rand -base64 32 | tr "+/" "-_" | tr -d "="';
