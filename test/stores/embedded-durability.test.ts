import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { startEmbeddedServer as serve, stopServer } from '../support/embedded-server.js';

/**
 * The embedded database runs PostgreSQL without fsync (PGlite's `-F`) and with small buffers
 * (src/stores/db/database.ts). A `kill -9` must still lose nothing that was answered: the real
 * server process, on a directory of its own, is killed right after the answers and started again.
 */

const PASSWORD = 'correct horse battery staple';
const json = { 'content-type': 'application/json' };
const dirs: string[] = [];
after(() => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));

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
    await stopServer(first.child, 'SIGKILL');
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
    await stopServer(second.child, 'SIGKILL');
  }
});
