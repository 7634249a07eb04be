import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

// What `npm pack` would publish, and whether every entry point a host can import exists once built.
// The tests of the rest of the tree run from sources; this one reads dist/, so it builds first
// (scripts/build.mjs, a no-op when nothing changed; `npm test` has already run it).

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const PACKAGES = [
  { name: 'gatehouse', dir: ROOT },
  { name: '@gatehouse/verify', dir: path.join(ROOT, 'packages/verify') },
  { name: '@gatehouse/client', dir: path.join(ROOT, 'packages/client') },
] as const;

/** Paths no tarball may hold: tests, benches, CI, sources, local state, build bookkeeping. */
const FORBIDDEN = [
  /^test\//,
  /\/test\//,
  /\.test\.[cm]?[jt]s$/,
  /^bench\//,
  /^\.ci\//,
  /^\.gatehouse\//,
  /^scripts\//,
  /^src\//,
  /^examples\//,
  /\.tsbuildinfo$/,
  /(^|\/)tsconfig[^/]*\.json$/,
];

interface PackedFile {
  readonly path: string;
}

function packedFiles(dir: string): string[] {
  // --ignore-scripts: the build ran above; pack must not run `prepare` again per package.
  const out = execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: dir, encoding: 'utf8' });
  const [report] = JSON.parse(out) as [{ files: PackedFile[] }];
  return report.files.map((f) => f.path);
}

/** Every file an `exports` map points to under the default (published) conditions, plus `types`. */
function exportTargets(exportsField: unknown): string[] {
  if (typeof exportsField === 'string') return [exportsField];
  if (exportsField === null || typeof exportsField !== 'object') return [];
  return Object.entries(exportsField as Record<string, unknown>)
    .filter(([condition]) => condition !== 'gatehouse-source')
    .flatMap(([, target]) => exportTargets(target));
}

describe('the published packages', () => {
  execFileSync(process.execPath, [path.join(ROOT, 'scripts/build.mjs')], { cwd: ROOT, stdio: 'inherit' });

  for (const { name, dir } of PACKAGES) {
    describe(name, () => {
      const manifest = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')) as { name: string; exports: unknown; bin?: Record<string, string> };
      const files = packedFiles(dir);

      it('is the package it claims to be', () => assert.equal(manifest.name, name));

      it('holds no tests, benches, CI scripts, sources or local state', () => {
        const offending = files.filter((f) => FORBIDDEN.some((rule) => rule.test(f)));
        assert.deepEqual(offending, []);
      });

      it('every exports target (JavaScript and types) exists after the build and is in the tarball', () => {
        const targets = exportTargets(manifest.exports);
        assert.ok(
          targets.some((t) => t.endsWith('.d.ts')),
          'each entry declares its types',
        );
        for (const target of targets) {
          const rel = path.posix.normalize(target);
          assert.ok(existsSync(path.join(dir, rel)), `${target} exists`);
          assert.ok(files.includes(rel), `${target} is packed`);
        }
      });

      it('every exported entry point has a types file beside its JavaScript', () => {
        for (const target of exportTargets(manifest.exports).filter((t) => t.endsWith('.js'))) {
          const types = target.replace(/\.js$/, '.d.ts');
          assert.ok(files.includes(path.posix.normalize(types)), `${types} is packed`);
        }
      });

      it('its bin scripts are packed and run compiled code only', () => {
        for (const bin of Object.values(manifest.bin ?? {})) {
          const rel = path.posix.normalize(bin);
          assert.ok(files.includes(rel), `${bin} is packed`);
          assert.doesNotMatch(readFileSync(path.join(dir, rel), 'utf8'), /tsx|\.ts['"]/);
        }
      });
    });
  }

  it("the hosted pages' templates and stylesheet are built beside the code that reads them, and packed", () => {
    const packed = packedFiles(ROOT);
    for (const dir of ['pages/templates', 'pages/assets']) {
      const sources = readdirSync(path.join(ROOT, 'src', dir));
      assert.ok(sources.length > 0, dir);
      for (const file of sources) assert.ok(packed.includes(`dist/${dir}/${file}`), `dist/${dir}/${file} is packed`);
    }
  });

  it('gatehouse depends on @gatehouse/verify, whose version it is built against, and not on tsx', () => {
    const root = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
    const verify = JSON.parse(readFileSync(path.join(ROOT, 'packages/verify/package.json'), 'utf8')) as { version: string };
    assert.equal(root.dependencies['@gatehouse/verify'], verify.version);
    assert.equal(root.dependencies.tsx, undefined);
  });

  it('@gatehouse/client has no runtime dependencies (fetch, Web Locks and BroadcastChannel are the platform)', () => {
    const client = JSON.parse(readFileSync(path.join(ROOT, 'packages/client/package.json'), 'utf8')) as Record<string, unknown>;
    assert.equal(client.dependencies, undefined);
    assert.equal(client.peerDependencies, undefined);
  });

  it('no published declaration needs @types/pg in a host', () => {
    const declarations = packedFiles(ROOT).filter((f) => f.endsWith('.d.ts'));
    const needingPg = declarations.filter((f) =>
      /from ['"]pg['"]|import\(["']pg["']\)|drizzle-orm\/node-postgres/.test(readFileSync(path.join(ROOT, f), 'utf8')),
    );
    assert.deepEqual(needingPg, []);
  });
});
