import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const git = (...args: string[]) => execFileSync('git', ['-C', ROOT, ...args], { encoding: 'utf8' }).trim();

/**
 * The commit before the first first-parent commit on this branch that added one of `paths`: "the
 * build before the feature" for a before/after row. BENCH_BEFORE_REF overrides it. Undefined outside a git
 * checkout with that history (a tarball): the row is then skipped with a notice.
 */
export function commitBefore(...paths: readonly string[]): string | undefined {
  const override = process.env.BENCH_BEFORE_REF;
  try {
    if (override !== undefined) return git('rev-parse', '--verify', `${override}^{commit}`);
    const added = git('log', '--first-parent', '--diff-filter=A', '--format=%H', '--', ...paths)
      .split('\n')
      .filter(Boolean)
      .at(-1);
    return added === undefined ? undefined : git('rev-parse', '--verify', `${added}^1`);
  } catch {
    return undefined;
  }
}

/**
 * A checkout of `commit` in a temporary directory that borrows this checkout's node_modules (the
 * build before a feature needs no dependency this one lacks), for a bench to run its servers in
 * the same run as this build's. `remove()` deletes it. The workspace packages (the SDK) resolve
 * through those node_modules to this checkout's: `sharedPackagesDiffer` says whether that matters.
 */
export function checkoutOf(commit: string): { readonly dir: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-before-'));
  git('worktree', 'add', '--detach', '--force', dir, commit);
  if (!existsSync(join(dir, 'node_modules'))) symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'), 'dir');
  return {
    dir,
    remove() {
      git('worktree', 'remove', '--force', dir);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Whether `packages/` changed since `commit` (then the build before runs with this build's SDK). */
export function sharedPackagesDiffer(commit: string): boolean {
  try {
    git('diff', '--quiet', commit, 'HEAD', '--', 'packages');
    return false;
  } catch {
    return true;
  }
}
