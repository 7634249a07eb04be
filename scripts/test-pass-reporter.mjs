// A `node --test` reporter (scripts/run-tests.mjs adds it to each pass, beside spec on stdout) that
// writes what the runner reads back once the pass ended:
// - `# tests N`, `# pass N`, … : the run's closing diagnostics, as the TAP reporter prints them;
// - `<ms>\t<file>` : one line per test file, the wall time of the file's own process (imports and
//   hooks included, which no test's duration shows), its path relative to the repository root.
// One reporter for both, not TAP plus this: a third reporter trips Node's MaxListeners warning.
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

export default async function* passReporter(source) {
  for await (const { type, data } of source) {
    if (type === 'test:diagnostic' && data.nesting === 0) yield `# ${data.message}\n`;
    // The runner reports each file as a test named by its path at nesting 0, completed with its wall time.
    if (type === 'test:complete' && data.nesting === 0 && data.file !== undefined && data.name === data.file) {
      yield `${Math.round(data.details?.duration_ms ?? 0)}\t${path.relative(root, data.file).split(path.sep).join('/')}\n`;
    }
  }
}
