import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export interface CliResult {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Runs the real entry point (`node bin/gatehouse.mjs …`) in a clean environment: nothing from the
 * developer's shell leaks in; `cwd` (default: the checkout) is where it runs. `input` is written to stdin (a pipe, so never a TTY), then closed.
 */
export function runCli(args: readonly string[], options: { env: Record<string, string>; input?: string; cwd?: string }): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(ROOT, 'bin/gatehouse.mjs'), ...args], {
      cwd: options.cwd ?? ROOT,
      env: { PATH: process.env.PATH ?? '', ...options.env },
      stdio: ['pipe', 'pipe', 'pipe'],
      timeout: 120_000,
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (status) => resolve({ status, stdout, stderr }));
    child.stdin.on('error', () => undefined);
    child.stdin.end(options.input ?? '');
  });
}

/** A temporary directory for one test file: the PGlite database and the development key live in it. */
export async function tempDeployment(): Promise<{ dir: string; env: Record<string, string>; cleanup(): Promise<void> }> {
  const dir = await mkdtemp(path.join(tmpdir(), 'gatehouse-cli-'));
  return {
    dir,
    env: {
      GATEHOUSE_ENV: 'development',
      GATEHOUSE_DATABASE_URL: path.join(dir, 'db'),
      GATEHOUSE_DATA_DIR: path.join(dir, 'data'),
      GATEHOUSE_LOG_LEVEL: 'silent',
    },
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
}

/** Every stderr line, empty ones dropped. */
export const lines = (text: string): string[] => text.split('\n').filter((l) => l.length > 0);
