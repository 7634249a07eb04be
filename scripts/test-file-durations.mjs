// A `node --test` reporter (scripts/run-tests.mjs adds it to each pass): writes one line per test
// file, `<ms>\t<path relative to the repository root>`, the wall time of the file's own process
// (imports and hooks included, which no test's duration shows). The runner prints the slowest
// files after each pass and orders the next runs by these numbers (scripts/test-durations.tsv).
import path from 'node:path';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');

export default async function* fileDurations(source) {
  for await (const event of source) {
    const { type, data } = event;
    // The runner reports each file as a test named by its path at nesting 0, completed with its wall time.
    if (type !== 'test:complete' || data.nesting !== 0 || data.file === undefined || data.name !== data.file) continue;
    const ms = Math.round(data.details?.duration_ms ?? 0);
    yield `${ms}\t${path.relative(root, data.file).split(path.sep).join('/')}\n`;
  }
}
