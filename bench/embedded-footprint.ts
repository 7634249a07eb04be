import type { ChildProcess } from 'node:child_process';
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { sql } from 'drizzle-orm';
import { openDatabase } from '../src/stores/db/database.js';
import { rssMb } from './process-memory.js';
import { startEmbeddedServer, stopServer, type EmbeddedServer } from '../test/support/embedded-server.js';

/**
 * Part of `npm run bench` (also alone: `npx tsx bench/embedded-footprint.ts`): issue 15 item 4.
 * The real server process on the embedded stores (PGlite in a new directory, in-process memory
 * store): time from spawn to the first `/readyz` 200 on a new database and on a restart, resident
 * memory (VmRSS, Linux) idle and with 10,000 users and 10,000 sessions, and their size on disk.
 * The users are inserted with one argon2id hash made by the server (10,000 hashes would take
 * minutes and measure argon2, not the store); each has a session with its refresh token.
 */
const USERS = Number(process.env.BENCH_FOOTPRINT_USERS ?? '10000');
const LOGINS = Number(process.env.BENCH_FOOTPRINT_LOGINS ?? '50');
const PASSWORD = 'correct horse battery staple';
const json = { 'content-type': 'application/json' };

async function serve(dir: string): Promise<EmbeddedServer & { readonly ms: number }> {
  const t0 = performance.now();
  const server = await startEmbeddedServer(dir);
  for (;;) {
    const res = await fetch(`${server.base}/readyz`).catch(() => undefined);
    if (res?.status === 200) break;
    await new Promise((r) => setTimeout(r, 10));
  }
  return { ...server, ms: performance.now() - t0 };
}

const stop = (child: ChildProcess) => stopServer(child, 'SIGTERM');

async function diskMb(dir: string): Promise<number> {
  let bytes = 0;
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (entry.isFile()) bytes += (await stat(path.join(entry.parentPath, entry.name))).blocks * 512;
  }
  return bytes / 1024 / 1024;
}

/** 10,000 users sharing the hash of `seed`'s password, each with one live session and refresh token. */
async function seed(dir: string): Promise<void> {
  const database = await openDatabase({ kind: 'pglite-dir', path: path.join(dir, 'db') });
  try {
    const { db } = database;
    await db.execute(sql`
      INSERT INTO users (id, username, username_key, password_hash)
      SELECT gen_random_uuid(), 'user' || i, 'user' || i, (SELECT password_hash FROM users WHERE username_key = 'seed')
      FROM generate_series(1, ${USERS}) AS i`);
    await db.execute(sql`
      INSERT INTO sessions (id, user_id, client_id, scope, device, created_at, last_used_at, expires_at, idle_expires_at, auth_methods, auth_time)
      SELECT gen_random_uuid(), id, 'gatehouse', '', 'bench', now(), now(), now() + interval '30 days', now() + interval '14 days', ARRAY['pwd'], now()
      FROM users WHERE username_key LIKE 'user%'`);
    await db.execute(sql`
      INSERT INTO refresh_tokens (digest, session_id, generation, created_at)
      SELECT encode(sha256(id::text::bytea), 'hex'), id, 0, now() FROM sessions WHERE device = 'bench'`);
  } finally {
    await database.close();
  }
}

export async function runEmbeddedFootprintBench(): Promise<void> {
  const dir = await mkdtemp(path.join(tmpdir(), 'gh-bench-footprint-'));
  const rows: string[][] = [['embedded stores (PGlite dir + memory)', 'result', 'target', '']];
  const row = (name: string, value: number, unit: string, limit: number) =>
    rows.push([name, `${value.toFixed(value >= 100 ? 0 : 1)} ${unit}`, `< ${String(limit)} ${unit}`, value < limit ? 'ok' : 'MISSED']);
  try {
    const first = await serve(dir);
    row('first start (new database) to /readyz 200', first.ms, 'ms', 3000);
    row('idle RSS after the first start', await rssMb(first.child.pid), 'MB', 150);
    const reg = await fetch(`${first.base}/auth/register`, { method: 'POST', headers: json, body: JSON.stringify({ username: 'seed', password: PASSWORD }) });
    if (reg.status !== 201) throw new Error(`register: ${reg.status}`);
    await stop(first.child);

    const restart = await serve(dir);
    row('restart to /readyz 200', restart.ms, 'ms', 1000);
    row('idle RSS after a restart', await rssMb(restart.child.pid), 'MB', 150);
    await stop(restart.child);

    await seed(dir);
    const loaded = await serve(dir);
    // Logins of users spread over the table, so the server has read them (and written sessions).
    for (let i = 1; i <= LOGINS; i++) {
      const username = `user${String(Math.ceil((i * USERS) / LOGINS))}`;
      const res = await fetch(`${loaded.base}/auth/login`, { method: 'POST', headers: json, body: JSON.stringify({ username, password: PASSWORD }) });
      if (res.status !== 200) throw new Error(`login ${username}: ${res.status}`);
    }
    row(`RSS, ${USERS.toLocaleString('en-US')} users + sessions, after ${String(LOGINS)} logins`, await rssMb(loaded.child.pid), 'MB', 250);
    // The seed writes users the way rows from before migration 0007 look (no username skeleton), so
    // this first start fills 10,000 skeletons once (username-skeleton-backfill.ts); the next is a
    // plain restart with that data.
    row('first start after loading them (fills their skeletons once)', loaded.ms, 'ms', 3000);
    await stop(loaded.child);
    const again = await serve(dir);
    row('restart to /readyz 200 with them', again.ms, 'ms', 1000);
    await stop(again.child);
    row('disk for them (database directory)', await diskMb(path.join(dir, 'db')), 'MB', 100);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  console.log('');
  for (const r of rows) console.log(r.map((cell, i) => cell.padEnd(widths[i]!)).join(' | '));
  console.log('Each start is a separate server process; RSS is VmRSS after 2 s idle.');
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) await runEmbeddedFootprintBench();
