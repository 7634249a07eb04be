import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { printTable } from './bench-table.js';
import { start } from './child-server.js';
import { rssMb } from './process-memory.js';
import { refreshChains } from './refresh-chains.js';
import { LIMITS_OFF } from '../test/support/gatehouse-instances.js';
import { startEmbeddedServer, stopServer } from '../test/support/embedded-server.js';
import { freePort } from '../test/support/private-redis.js';

/**
 * Part of `npm run bench` (also alone: `npx tsx --conditions=gatehouse-source bench/seed-app.ts`):
 * issue 16's side-by-side rows. The seeds' FastAPI app (`../shared/anchors/seed-fastapi`, uvicorn,
 * one worker, SQLite, bcrypt) and Gatehouse as `npm start` runs it (the compiled server, embedded
 * PGlite, access log on, every limit off because all the load comes from 127.0.0.1) take the same
 * load from the same generator in the same run: `GET /me` (autocannon), password logins (autocannon,
 * 8 connections) and refresh chains (each chain presents the refresh token its last answer gave,
 * so Gatehouse rotates; the seed's refresh token is a reusable JWT it never replaces, so its chains
 * present the same one again). Each path
 * is loaded in turn, seed / Gatehouse / seed / Gatehouse, so a drift in the machine's speed hits both.
 */
const SECONDS = Number(process.env.BENCH_SECONDS ?? '10');
const CONNECTIONS = 50;
const LOGIN_CONNECTIONS = 8;
const REFRESH_CHAINS = 20;
const USERNAME = 'seedbench';
const PASSWORD = 'correct horse battery staple';
const SEED_DIR = fileURLToPath(new URL('../../shared/anchors/seed-fastapi/', import.meta.url));
const SEED_MODULES = ['fastapi', 'uvicorn', 'jose', 'passlib', 'bcrypt', 'sqlalchemy', 'multipart'];
const json = { 'content-type': 'application/json' };
const form = { 'content-type': 'application/x-www-form-urlencoded' };

/** The few paths that differ between the two apps; everything else is loaded identically. */
interface Target {
  readonly name: string;
  readonly base: string;
  readonly pid: number | undefined;
  readonly register: string;
  readonly token: string;
  readonly tokenBody: string;
  readonly refresh: string;
}

const seedMissing = (): string | undefined => {
  const probe = spawnSync('/usr/bin/python3', ['-c', `import ${SEED_MODULES.join(', ')}`], { cwd: SEED_DIR, encoding: 'utf8' });
  if (probe.error !== undefined) return `python3 not runnable (${probe.error.message})`;
  return probe.status === 0 ? undefined : `its Python packages are missing (${probe.stderr.trim().split('\n').at(-1) ?? ''})`;
};

async function startSeed(dbDir: string): Promise<{ child: ChildProcess; base: string }> {
  const port = await freePort();
  const child = spawn(
    '/usr/bin/python3',
    [
      '-m',
      'uvicorn',
      'app:app',
      '--host',
      '127.0.0.1',
      '--port',
      String(port),
      '--workers',
      '1',
      '--log-level',
      'warning',
      '--loop',
      'asyncio',
      '--http',
      'h11',
    ],
    { cwd: SEED_DIR, env: { PATH: process.env.PATH ?? '', SEED_DB: path.join(dbDir, 'seed.db') }, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (stderr = (stderr + chunk).slice(-2000)));
  const base = `http://127.0.0.1:${String(port)}`;
  const deadline = performance.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the seed app exited (${String(child.exitCode)}):\n${stderr}`);
    const res = await fetch(`${base}/me`).catch(() => undefined);
    if (res !== undefined) break; // 401 without a token: it answers
    if (performance.now() > deadline) throw new Error(`the seed app did not answer within 30 s:\n${stderr}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return { child, base };
}

async function login(t: Target): Promise<{ access_token: string; refresh_token: string }> {
  const res = await fetch(`${t.base}${t.token}`, { method: 'POST', headers: form, body: t.tokenBody });
  if (res.status !== 200) throw new Error(`${t.name} login: ${res.status} ${await res.text()}`);
  return (await res.json()) as { access_token: string; refresh_token: string };
}

async function load(options: autocannon.Options): Promise<number> {
  const result = await autocannon({ duration: SECONDS / 2, ...options });
  const bad = result.non2xx + result.errors + result.timeouts;
  if (bad > 0) throw new Error(`${options.url}: ${bad} failed requests of ${result.requests.total}`);
  return result.requests.total;
}

/**
 * The embedded engine's own ceiling for a rotation: the session store's compare-and-set on PGlite
 * in a directory, without HTTP, tokens or logs (bench/servers/store-rotations.ts), at the chains'
 * concurrency. What `POST /auth/refresh` on the embedded store can never exceed.
 */
async function storeRotationsOnPglite(dir: string): Promise<number> {
  const { next } = start('./servers/store-rotations.ts', {
    BENCH_DATABASE_URL: path.join(dir, 'ceiling-db'),
    CONCURRENCY: String(REFRESH_CHAINS),
    SECONDS: String(SECONDS / 2),
  });
  return Number((await next('result')).perSecond);
}

interface Figures {
  me: number;
  logins: number;
  refreshes: number;
  idleMb: number;
  loadedMb: number;
}

async function measure(targets: readonly [Target, Target]): Promise<[Figures, Figures]> {
  const figures = targets.map(() => ({ me: 0, logins: 0, refreshes: 0, idleMb: 0, loadedMb: 0 })) as [Figures, Figures];
  const sessions: { access: string; chains: string[] }[] = [];
  for (const [i, t] of targets.entries()) {
    const reg = await fetch(`${t.base}${t.register}`, { method: 'POST', headers: json, body: JSON.stringify({ username: USERNAME, password: PASSWORD }) });
    if (reg.status !== 201) throw new Error(`${t.name} register: ${reg.status} ${await reg.text()}`);
    figures[i]!.idleMb = await rssMb(t.pid);
    const chains: string[] = [];
    for (let c = 0; c < REFRESH_CHAINS; c++) chains.push((await login(t)).refresh_token);
    sessions.push({ access: (await login(t)).access_token, chains });
  }
  for (let round = 0; round < 2; round++) {
    for (const [i, t] of targets.entries()) {
      const s = sessions[i]!;
      figures[i]!.me += await load({ url: `${t.base}/me`, connections: CONNECTIONS, headers: { authorization: `Bearer ${s.access}` } });
      figures[i]!.logins += await load({ url: `${t.base}${t.token}`, method: 'POST', connections: LOGIN_CONNECTIONS, headers: form, body: t.tokenBody });
      const chained = await refreshChains(`${t.base}${t.refresh}`, s.chains, SECONDS / 2);
      figures[i]!.refreshes += chained.count;
      s.chains = chained.lasts;
      figures[i]!.loadedMb = Math.max(figures[i]!.loadedMb, await rssMb(t.pid, 0));
    }
  }
  for (const f of figures) {
    f.me /= SECONDS;
    f.logins /= SECONDS;
    f.refreshes /= SECONDS;
  }
  return figures;
}

function print(gatehouse: Figures, seed: Figures, ceiling: number): void {
  const fmt = (n: number) => (n >= 100 ? Math.round(n).toLocaleString('en-US') : n.toFixed(1));
  const rows: string[][] = [
    ["beside the seeds' FastAPI app", 'Gatehouse', 'seed app (same run)', 'Gatehouse ÷ seed', 'target', ''],
    ['GET /me, bearer', `${fmt(gatehouse.me)} req/s`, `${fmt(seed.me)} req/s`, `${(gatehouse.me / seed.me).toFixed(1)}x`, '', ''],
    [
      `password logins (${String(LOGIN_CONNECTIONS)} in flight; argon2id vs bcrypt 12)`,
      `${fmt(gatehouse.logins)} /s`,
      `${fmt(seed.logins)} /s`,
      `${(gatehouse.logins / seed.logins).toFixed(1)}x`,
      '',
      '',
    ],
    [
      `POST /auth/refresh (${String(REFRESH_CHAINS)} chains; Gatehouse rotates)`,
      `${fmt(gatehouse.refreshes)} /s`,
      `${fmt(seed.refreshes)} /s`,
      `${(gatehouse.refreshes / seed.refreshes).toFixed(1)}x`,
      '>= 10x',
      gatehouse.refreshes / seed.refreshes >= 10 ? 'ok' : 'MISSED',
    ],
    [
      '  the session store alone on PGlite (no HTTP): the ceiling',
      `${fmt(ceiling)} /s`,
      `${fmt(seed.refreshes)} /s`,
      `${(ceiling / seed.refreshes).toFixed(1)}x`,
      '',
      '',
    ],
    [
      'RSS idle (after start + one registration)',
      `${fmt(gatehouse.idleMb)} MB`,
      `${fmt(seed.idleMb)} MB`,
      `${(gatehouse.idleMb / seed.idleMb).toFixed(1)}x`,
      '',
      '',
    ],
    [
      'RSS loaded (highest after a load)',
      `${fmt(gatehouse.loadedMb)} MB`,
      `${fmt(seed.loadedMb)} MB`,
      `${(gatehouse.loadedMb / seed.loadedMb).toFixed(1)}x`,
      '',
      '',
    ],
  ];
  printTable(rows);
  console.log(
    `Both loaded in turn (seed, Gatehouse, seed, Gatehouse), ${String(SECONDS / 2)} s each; Gatehouse: the compiled server on PGlite, access log on, limits off; seed: uvicorn, 1 worker, SQLite.`,
  );
}

export async function runSeedAppBench(): Promise<void> {
  const missing = seedMissing();
  if (missing !== undefined) {
    console.log(`\nSeed-app rows skipped: ${missing}. ${path.join(SEED_DIR, 'README.md')} lists the Debian packages.`);
    return;
  }
  const dir = await mkdtemp(path.join(tmpdir(), 'gh-bench-seed-'));
  const seed = await startSeed(dir);
  try {
    const gatehouse = await startEmbeddedServer(dir, { ...LIMITS_OFF, GATEHOUSE_LOG_LEVEL: 'info' });
    try {
      const tokenBody = new URLSearchParams({ grant_type: 'password', username: USERNAME, password: PASSWORD }).toString();
      const [seedFigures, gatehouseFigures] = await measure([
        { name: 'seed', base: seed.base, pid: seed.child.pid, register: '/auth/register', token: '/token', tokenBody, refresh: '/auth/refresh' },
        {
          name: 'gatehouse',
          base: gatehouse.base,
          pid: gatehouse.child.pid,
          register: '/auth/register',
          token: '/auth/token',
          tokenBody,
          refresh: '/auth/refresh',
        },
      ]);
      print(gatehouseFigures, seedFigures, await storeRotationsOnPglite(dir));
    } finally {
      await stopServer(gatehouse.child, 'SIGTERM');
    }
  } finally {
    await stopServer(seed.child, 'SIGTERM');
    await rm(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) await runSeedAppBench();
