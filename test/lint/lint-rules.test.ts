import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';

const root = fileURLToPath(new URL('../../', import.meta.url));
const FIXTURE = 'test/lint/fixtures/floating-promises.ts';

interface Diagnostic {
  code: string;
  labels: { span: { line: number } }[];
}

/** `line rule` for each line of the fixture marked `// reported: <rule>`. */
function expected(): string[] {
  return readFileSync(new URL(`../../${FIXTURE}`, import.meta.url), 'utf8')
    .split('\n')
    .flatMap((text, i) => {
      const rule = /\/\/ reported: (\S+)$/.exec(text)?.[1];
      return rule === undefined ? [] : [`${i + 1} ${rule}`];
    });
}

/** Lints with the project's own config; `npm run lint` leaves the fixture folder out (--ignore-pattern), --no-ignore puts it back. */
function lint(): { status: number | null; found: string[] } {
  const run = spawnSync(process.execPath, ['node_modules/oxlint/bin/oxlint', '--no-ignore', '--deny-warnings', '-f', 'json', FIXTURE], {
    cwd: root,
    encoding: 'utf8',
  });
  assert.equal(run.error, undefined);
  const { diagnostics } = JSON.parse(run.stdout) as { diagnostics: Diagnostic[] };
  const found = diagnostics.map((d) => `${d.labels[0]?.span.line} ${d.code.replace(/^(\w+)\((.+)\)$/, '$1/$2')}`);
  return { status: run.status, found: found.sort() };
}

// The linter does not depend on the stores: nothing here reads them, so npm test runs this file in one pass only.
test('npm run lint fails on a floating or misused promise and accepts awaited, voided, caught and runner-tracked ones', () => {
  const { status, found } = lint();
  assert.deepEqual(found, expected().sort());
  assert.equal(status, 1);
});
