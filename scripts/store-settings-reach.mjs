// Which test files can tell the two passes of scripts/run-tests.mjs apart. A pass differs from the
// other only in GATEHOUSE_TEST_STORES, GATEHOUSE_TEST_DATABASE_URL, GATEHOUSE_TEST_REDIS_URL and
// GATEHOUSE_TEST_PGLITE_TEMPLATE (test/support/test-stores.ts reads them); a file none of whose modules mentions one of them runs
// the same code against the same stores in both, so the real pass would repeat it for nothing.
//
// The walk is deliberately generous, so it errs towards running a file twice: every string literal
// that names a file of the checkout (`./x.js`, `../support/y.ts`, `src/z.ts`: imports, dynamic
// imports, scripts handed to a child process) is followed, type-only imports included; only other
// test files are not.
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';

const PASS_SETTING = /\bGATEHOUSE_TEST_(?:STORES|DATABASE_URL|REDIS_URL|PGLITE_TEMPLATE)\b/;
const FILE_LITERAL = /['"`]((?:\.{1,2}\/|(?:src|test|examples|bench|scripts|packages)\/)[^'"`\s${}]+)['"`]/g;

const isFile = (p) => existsSync(p) && statSync(p).isFile();

/** The checkout's source file a literal names (`.js` written for a `.ts` file, as ESM TypeScript does); undefined if none. */
function resolveLiteral(root, from, literal) {
  const base = literal.startsWith('.') ? path.resolve(path.dirname(from), literal) : path.resolve(root, literal);
  if (!base.startsWith(`${root}${path.sep}`) || base.includes(`${path.sep}node_modules${path.sep}`)) return undefined;
  const candidates = [base, base.replace(/\.js$/, '.ts'), base.replace(/\.mjs$/, '.mts'), `${base}.ts`, path.join(base, 'index.ts')];
  // Another test file is never a module of this one (comments in src name the tests beside them).
  return candidates.find((c) => /\.(?:[cm]?ts|[cm]?js)$/.test(c) && !c.endsWith('.test.ts') && isFile(c));
}

/**
 * How `file` (absolute) reaches a pass setting: the chain of modules from it to the first one that
 * mentions one of those settings, relative to `root`; undefined when none does.
 */
export function passSettingChain(root, file, seen = new Set()) {
  if (seen.has(file)) return undefined;
  seen.add(file);
  const text = readFileSync(file, 'utf8');
  const here = path.relative(root, file).split(path.sep).join('/');
  if (PASS_SETTING.test(text)) return [here];
  for (const match of text.matchAll(FILE_LITERAL)) {
    const next = resolveLiteral(root, file, match[1]);
    const chain = next === undefined ? undefined : passSettingChain(root, next, seen);
    if (chain !== undefined) return [here, ...chain];
  }
  return undefined;
}
