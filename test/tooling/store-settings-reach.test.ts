import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
// @ts-expect-error -- a plain .mjs script of the runner, without type declarations
import { passSettingChain } from '../../scripts/store-settings-reach.mjs';

const reach = passSettingChain as (root: string, file: string) => string[] | undefined;
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

describe('which test files the real pass repeats (scripts/store-settings-reach.mjs)', () => {
  const fixture = mkdtempSync(path.join(tmpdir(), 'gatehouse-reach-'));
  after(() => rmSync(fixture, { recursive: true, force: true }));
  const write = (file: string, text: string) => {
    mkdirSync(path.dirname(path.join(fixture, file)), { recursive: true });
    writeFileSync(path.join(fixture, file), text);
  };
  write('test/support/stores.ts', 'export const url = process.env.GATEHOUSE_TEST_DATABASE_URL;\n');
  write('test/support/app.ts', "import { url } from './stores.js';\nexport const app = url;\n");
  write('src/pure.ts', 'export const pure = 1;\n');
  write('test/a.test.ts', "import { pure } from '../src/pure.js';\n");

  test('malicious: a file reaching the store settings only through a dynamic import, a type import, a child script or a chain of modules runs twice', () => {
    write('test/dynamic.test.ts', "const { app } = await import('./support/app.js');\n");
    write('test/typed.test.ts', "import type { url } from './support/stores.js';\n");
    write('test/child.test.ts', "spawnSync(process.execPath, ['--import', 'tsx', 'test/support/app.ts']);\n");
    write('test/chain.test.ts', "import {\n  app,\n} from './support/app.js';\n");
    for (const file of ['dynamic', 'typed', 'child', 'chain']) {
      assert.equal(reach(fixture, path.join(fixture, `test/${file}.test.ts`))?.at(-1), 'test/support/stores.ts', file);
    }
  });

  test('a file whose modules never mention a store setting runs once, even when a comment in them names a test file that does', () => {
    write('test/b.test.ts', "import { pure } from '../src/pure.js';\nconst s = process.env.GATEHOUSE_TEST_STORES;\n");
    write('src/pure.ts', '// tested by `test/b.test.ts`\nexport const pure = 1;\n');
    assert.equal(reach(fixture, path.join(fixture, 'test/a.test.ts')), undefined);
  });

  test('in this checkout: every browser and example test, and every file on test-app or test-stores, runs twice; the CLI tests on their own PGlite directory once', () => {
    const twice = (file: string) => reach(ROOT, path.join(ROOT, file)) !== undefined;
    const browser = readdirSync(path.join(ROOT, 'test/browser')).filter((f) => f.endsWith('.test.ts'));
    assert.ok(browser.length > 0);
    for (const file of browser) assert.equal(twice(`test/browser/${file}`), true, file);
    for (const file of ['examples/spa/test/spa.test.ts', 'test/http/admin.test.ts', 'test/stores/test-stores.test.ts', 'test/cli/doctor-command.test.ts']) {
      assert.equal(twice(file), true, file);
    }
    for (const file of ['test/cli/users-command.test.ts', 'test/passwords/password-hasher.test.ts', 'test/lint/lint-rules.test.ts']) {
      assert.equal(twice(file), false, file);
    }
  });
});
