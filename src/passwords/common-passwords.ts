/**
 * Blocklist of commonly used passwords (NIST SP 800-63B-4 §3.1.1.2: verifiers SHALL compare
 * prospective passwords against a blocklist of commonly used, expected or compromised values).
 *
 * Source of `common-passwords.txt`:
 *  - 17,950 lines: the ranked `passwords.json` of `@zxcvbn-ts/language-common` 4.1.3
 *    (MIT licence, © 2012-2016 Dan Wheeler and Dropbox, Inc., © 2021 @zxcvbn-ts), itself drawn
 *    from Mark Burnett's 10 million leaked passwords. Copied once from the npm tarball; the
 *    package is not a dependency.
 *  - 32 lines at the end: hand-added long keyboard walks and repeats ("123456789012345",
 *    "111111111111111", "qwertyuiopasdfghjkl") that people type to reach a 15-character minimum;
 *    most appear in the SecLists "10 million passwords" top-1M list.
 * Every entry was NFKC-normalised and lower-cased, and entries shorter than 8 code points were
 * dropped: the policy never accepts fewer than 8, so they could never match. Most common first.
 */
import { readFileSync } from 'node:fs';

const LIST_URL = new URL('./common-passwords.txt', import.meta.url);

let blocklist: ReadonlySet<string> | undefined;

/** Read once, on first use, so importing the module costs nothing until a password is checked. */
function load(): ReadonlySet<string> {
  if (blocklist === undefined) {
    const lines = readFileSync(LIST_URL, 'utf8').split('\n');
    blocklist = new Set(lines.filter((line) => line.length > 0));
  }
  return blocklist;
}

/**
 * Whether a password is on the blocklist. The caller passes the NFKC-normalised, lower-cased
 * password: the list is stored in that form.
 *
 * @example isCommonPassword('passwordpassword') // true
 */
export function isCommonPassword(lowercased: string): boolean {
  return load().has(lowercased);
}
