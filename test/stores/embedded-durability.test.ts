import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { ROOT } from '../cli/cli-process.js';

/**
 * The embedded database runs PostgreSQL without fsync (PGlite's `-F`) and with small buffers
 * (src/stores/db/database.ts). A `kill -9` must still lose nothing that was answered: the real
 * server process, on a directory of its own, is killed right after the answers and started again.
 */

const PASSWORD = 'correct horse battery staple';
const json = { 'content-type': 'application/json' };
const dirs: string[] = [];
after(() => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));

interface Server {
  readonly child: ChildProcess;
  readonly base: string;
}

/** `gatehouse serve` on port 0; resolves with the address it prints once listening. */
function serve(dir: string): Promise<Server> {
  const entry = existsSync(path.join(ROOT, 'dist/cli/main.js')) ? ['dist/cli/main.js'] : ['bin/gatehouse.mjs'];
  const child = spawn(process.execPath, [...entry, 'serve'], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH ?? '',
      GATEHOUSE_ENV: 'development',
      GATEHOUSE_DATABASE_URL: path.join(dir, 'db'),
      GATEHOUSE_DATA_DIR: path.join(dir, 'data'),
      GATEHOUSE_LOG_LEVEL: 'silent',
      PORT: '0',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return new Promise((resolve, reject) => {
    let output = '';
    const onData = (chunk: string) => {
      output += chunk;
      const match = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(output);
      if (match?.[1] !== undefined) {
        child.stdout?.off('data', onData);
        resolve({ child, base: match[1] });
      }
    };
    child.stdout?.setEncoding('utf8').on('data', onData);
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    child.once('exit', (code, signal) => reject(new Error(`serve exited (${String(code ?? signal)}) before listening:\n${output}`)));
  });
}

function killHard(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.child.once('exit', () => resolve());
    server.child.kill('SIGKILL');
  });
}

async function post(base: string, route: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${base}${route}`, { method: 'POST', headers: { ...json, ...headers }, body: JSON.stringify(body) });
}

test('kill -9 right after the answers loses neither the registered user nor the logout (revocation)', { timeout: 120_000 }, async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'gh-embedded-durability-'));
  dirs.push(dir);

  const first = await serve(dir);
  let tokens: { access_token: string; refresh_token: string };
  try {
    assert.equal((await post(first.base, '/auth/register', { username: 'durable', password: PASSWORD })).status, 201);
    const login = await post(first.base, '/auth/login', { username: 'durable', password: PASSWORD });
    assert.equal(login.status, 200);
    tokens = (await login.json()) as typeof tokens;
    assert.equal((await post(first.base, '/auth/logout', {}, { authorization: `Bearer ${tokens.access_token}` })).status, 204);
  } finally {
    await killHard(first);
  }

  const second = await serve(dir);
  try {
    const again = await post(second.base, '/auth/login', { username: 'durable', password: PASSWORD });
    assert.equal(again.status, 200, 'the user registered before the kill logs in after it');
    const me = await fetch(`${second.base}/me`, { headers: { authorization: `Bearer ${tokens.access_token}` } });
    assert.equal(me.status, 401, 'the access token logged out before the kill stays refused');
    const refresh = await post(second.base, '/auth/refresh', { refresh_token: tokens.refresh_token });
    assert.ok(refresh.status === 400 || refresh.status === 401, `the logged-out session's refresh token stays refused (got ${refresh.status})`);
  } finally {
    await killHard(second);
  }
});
