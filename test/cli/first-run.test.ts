import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ROOT, runCli } from './cli-process.js';

/**
 * Regression (issue 15): after `npm start` made its development state, the README's next commands
 * (`gatehouse users create admin --admin --password-stdin`, `gatehouse routes`) failed with
 * "GATEHOUSE_SIGNING_KEYS: required in production", because the CLI without npm start was production.
 * Here every command runs in a fresh directory with no GATEHOUSE_* variable at all, as a newcomer's shell.
 */

/** `gatehouse serve` as `npm start` launches it (npm sets npm_lifecycle_event), stopped once its banner is out. */
function serveOnceAsNpmStart(cwd: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(ROOT, 'bin/gatehouse.mjs'), 'serve'], {
      cwd,
      env: { PATH: process.env.PATH ?? '', npm_lifecycle_event: 'start', PORT: '0', GATEHOUSE_LOG_LEVEL: 'silent' },
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: 120_000,
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
      if (stdout.includes('  docs: ')) child.kill('SIGTERM');
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (status) => (status === 0 ? resolve(stdout) : reject(new Error(`serve exited ${status}: ${stderr}`))));
  });
}

const ENV = { GATEHOUSE_LOG_LEVEL: 'silent' };

describe('first run: the CLI after npm start, no GATEHOUSE_ENV', () => {
  let cwd: string;
  let banner: string;
  before(async () => {
    cwd = await mkdtemp(path.join(tmpdir(), 'gatehouse-first-run-'));
    banner = await serveOnceAsNpmStart(cwd);
  });
  after(() => rm(cwd, { recursive: true, force: true }));

  test('serve: development, and the banner says why', () => {
    assert.match(banner, /^ {2}mode: development \(GATEHOUSE_ENV unset; launched by npm start\)$/m);
    assert.ok(existsSync(path.join(cwd, '.gatehouse', 'signing-keys.json')));
  });

  test("the README's first-admin command works as written", async () => {
    const result = await runCli(['users', 'create', 'admin', '--admin', '--password-stdin'], {
      cwd,
      env: ENV,
      input: 'correct horse battery staple, twice over\n',
    });
    assert.equal(result.status, 0, result.stderr);
    assert.match(result.stdout, /^created admin \S+ \(admin\)$/m);
    assert.doesNotMatch(result.stderr, /GATEHOUSE_SIGNING_KEYS/);
  });

  test('routes, tenants list and doctor work too; doctor reports development from the data directory', async () => {
    const routes = await runCli(['routes', '--json'], { cwd, env: ENV });
    assert.doesNotMatch(routes.stderr, /GATEHOUSE_/, routes.stderr);
    assert.ok((JSON.parse(routes.stdout) as { routes: unknown[] }).routes.length > 0);
    const tenants = await runCli(['tenants', 'list'], { cwd, env: ENV });
    assert.equal(tenants.status, 0, tenants.stderr);
    const doctor = await runCli(['doctor', '--json'], { cwd, env: ENV });
    const report = JSON.parse(doctor.stdout) as { checks: { status: string; check: string; detail: string }[]; failed: number };
    assert.equal(report.failed, 0, doctor.stdout);
    assert.equal(
      report.checks.find((c) => c.check === 'mode')?.detail,
      `development (GATEHOUSE_ENV unset; development key in ${path.join('.gatehouse', 'signing-keys.json')}): generated keys and relaxed checks; never expose it`,
    );
  });
});

describe('first run: a plain CLI in an empty directory is production, but a command that signs nothing still works', () => {
  let cwd: string;
  before(async () => (cwd = await mkdtemp(path.join(tmpdir(), 'gatehouse-empty-'))));
  after(() => rm(cwd, { recursive: true, force: true }));

  test('users create without any key; serve refuses without issuer and keys', async () => {
    const created = await runCli(['users', 'create', 'ops', '--password-stdin'], { cwd, env: ENV, input: 'a long enough operator passphrase\n' });
    assert.equal(created.status, 0, created.stderr);
    // It made no development key, so the directory stays a production one.
    assert.equal(existsSync(path.join(cwd, '.gatehouse', 'signing-keys.json')), false);
    const served = await runCli(['serve'], { cwd, env: ENV });
    assert.equal(served.status, 1);
    assert.deepEqual(
      served.stderr
        .split('\n')
        .filter((l) => l.length > 0)
        .map((l) => l.split(':')[1]?.trim()),
      ['GATEHOUSE_ISSUER', 'GATEHOUSE_SIGNING_KEYS'],
    );
  });
});
