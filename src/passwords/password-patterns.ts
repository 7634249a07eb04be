/**
 * The "repetitive or sequential characters" and "context-specific words" of NIST SP 800-63B-4
 * §3.1.1.2, found in a password: runs of one character or of a short unit, alphabet and digit
 * sequences, keyboard rows, and the service's or the account's own names.
 *
 * Hand-rolled rather than zxcvbn (`@zxcvbn-ts/core`): zxcvbn estimates guesses, and a threshold on
 * that estimate is a strength meter, not a rule a user can be told; here each refusal has one
 * plain reason, the cost is linear in the password (1 KiB is allowed), and nothing is loaded.
 */

export type PatternKind = 'repetitive' | 'sequential' | 'context';

/** Keyboard rows run together (a walk goes on to the next row: "qwertyuiopasdfg"), QWERTY, QWERTZ, AZERTY, columns. */
const KEYBOARD_WALKS = ['1234567890', 'qwertyuiopasdfghjklzxcvbnm', 'qwertzuiopasdfghjklyxcvbnm', 'azertyuiopqsdfghjklmwxcvbn', 'qazwsxedcrfvtgbyhnujmikolp'];
const WALKS = [...KEYBOARD_WALKS, ...KEYBOARD_WALKS.map((walk) => [...walk].reverse().join(''))];
/** Shorter walks and sequences are parts of words ("liberty" holds "erty", "first" holds "rst"). */
const MIN_WALK = 5;
const MIN_SEQUENCE = 4;
/** Units repeated side by side: "aaa", "abab", "abcabc", "abcdabcd". */
const MAX_UNIT = 4;
const MIN_CONTEXT_WORD = 3;

interface Span {
  readonly start: number;
  readonly end: number;
  readonly kind: PatternKind;
}

function repeats(chars: readonly string[]): Span[] {
  const spans: Span[] = [];
  for (let unit = 1; unit <= MAX_UNIT; unit++) {
    let start = 0;
    for (let i = unit; i <= chars.length; i++) {
      if (i < chars.length && chars[i] === chars[i - unit]) continue;
      if (i - start >= Math.max(3, 2 * unit)) spans.push({ start, end: i, kind: 'repetitive' });
      start = i - unit + 1;
    }
  }
  return spans;
}

/** Code points going up or down by one: "abcd", "4321", "mnop". */
function sequences(chars: readonly string[]): Span[] {
  const spans: Span[] = [];
  const codes = chars.map((c) => c.codePointAt(0)!);
  for (const step of [1, -1]) {
    let start = 0;
    for (let i = 1; i <= codes.length; i++) {
      if (i < codes.length && codes[i]! - codes[i - 1]! === step) continue;
      if (i - start >= MIN_SEQUENCE) spans.push({ start, end: i, kind: 'sequential' });
      start = i;
    }
  }
  return spans;
}

function keyboardWalks(chars: readonly string[]): Span[] {
  const spans: Span[] = [];
  for (const walk of WALKS) {
    let start = 0;
    for (let i = 1; i <= chars.length; i++) {
      const at = walk.indexOf(chars[i - 1]!);
      if (i < chars.length && at >= 0 && walk[at + 1] === chars[i]) continue;
      if (i - start >= MIN_WALK) spans.push({ start, end: i, kind: 'sequential' });
      start = i;
    }
  }
  return spans;
}

function contextWords(chars: readonly string[], words: readonly string[]): Span[] {
  const spans: Span[] = [];
  for (const word of words) {
    const w = [...word];
    if (w.length < MIN_CONTEXT_WORD) continue;
    for (let i = 0; i + w.length <= chars.length; i++) {
      if (w.every((c, j) => chars[i + j] === c)) spans.push({ start: i, end: i + w.length, kind: 'context' });
    }
  }
  return spans;
}

/**
 * The pattern kind that covers the most of `chars` when patterns together cover more than half
 * of it; undefined when the password is mostly something else. `chars` and `words` are folded
 * (NFKC, lower case) code points.
 *
 * @example dominantPattern([...'gatehouse2024!!!'], ['gatehouse']) // 'context'
 */
export function dominantPattern(chars: readonly string[], words: readonly string[]): PatternKind | undefined {
  const owner: (PatternKind | undefined)[] = new Array(chars.length).fill(undefined);
  // Longer spans first, so that a character belongs to the largest pattern it is part of.
  const spans = [...repeats(chars), ...sequences(chars), ...keyboardWalks(chars), ...contextWords(chars, words)].sort(
    (a, b) => b.end - b.start - (a.end - a.start),
  );
  for (const span of spans) for (let i = span.start; i < span.end; i++) owner[i] ??= span.kind;
  const counts = new Map<PatternKind, number>();
  let covered = 0;
  for (const kind of owner) {
    if (kind === undefined) continue;
    covered++;
    counts.set(kind, (counts.get(kind) ?? 0) + 1);
  }
  if (covered * 2 <= chars.length) return undefined;
  return [...counts].sort((a, b) => b[1] - a[1])[0]?.[0];
}

/**
 * The shortest unit the whole password repeats ("abcabcab" → 3), or its length when it repeats
 * nothing. Prefix function (Knuth–Morris–Pratt), linear.
 */
export function repeatingUnit(chars: readonly string[]): number {
  const n = chars.length;
  const border: number[] = new Array(n).fill(0);
  for (let i = 1; i < n; i++) {
    let k = border[i - 1]!;
    while (k > 0 && chars[i] !== chars[k]) k = border[k - 1]!;
    if (chars[i] === chars[k]) k++;
    border[i] = k;
  }
  const unit = n - (border[n - 1] ?? 0);
  // At least two whole units; "abcab" does not repeat "abc".
  return unit * 2 <= n ? unit : n;
}

/** How often the most frequent character occurs. */
export function mostFrequentCount(chars: readonly string[]): number {
  const counts = new Map<string, number>();
  let most = 0;
  for (const c of chars) {
    const count = (counts.get(c) ?? 0) + 1;
    counts.set(c, count);
    if (count > most) most = count;
  }
  return most;
}
