import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { decodeProtectedHeader } from 'jose';
import { printTable } from './bench-table.js';
import { runCli } from '../test/cli/cli-process.js';
import { LIMITS_OFF } from '../test/support/gatehouse-instances.js';
import { startEmbeddedServer, stopServer, type EmbeddedServer } from '../test/support/embedded-server.js';
import { freePort, hasRedisServer, killRedis, startRedis } from '../test/support/private-redis.js';
import { privatePostgresUnavailable, startPrivatePostgres } from '../test/support/private-postgres.js';

/**
 * `npm run bench:cluster` (issue 17): three Gatehouse instances — the compiled server, separate
 * processes — on one private PostgreSQL and one private Redis that this script starts on loopback
 * (Debian's postgresql and redis-server, through the fault tests' test/support/private-*.ts, so
 * PostgreSQL runs with fsync off; skipped with a notice where absent), sharing one issuer,
 * one KEK and stored signing keys (GATEHOUSE_KEY_SOURCE=store). It measures:
 *   1. mixed load (logins, refreshes, GET /me, logouts) spread over the three against the same
 *      load on one instance;
 *   2. revocation propagation instance → instance, per kind (session: logout; user: logout-all;
 *      token: RFC 7009 revocation of one access token);
 *   3. refresh races: 30 concurrent exchanges of one refresh token spread over the three;
 *   4. `gatehouse keys rotate` while the three serve: failed requests.
 */
const SECONDS = Number(process.env.BENCH_SECONDS ?? '10');
const SAMPLES = Number(process.env.BENCH_CLUSTER_SAMPLES ?? '200');
const RACES = Number(process.env.BENCH_CLUSTER_RACES ?? '20');
const RACERS = 30;
const CLIENTS = 16;
const PASSWORD = 'correct horse battery staple';
const json = { 'content-type': 'application/json' };
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

interface Tokens {
  readonly access_token: string;
  readonly refresh_token: string;
}

async function call(url: string, init: RequestInit & { expect?: number } = {}): Promise<Response> {
  const res = await fetch(url, init);
  if (init.expect !== undefined && res.status !== init.expect) throw new Error(`${init.method ?? 'GET'} ${url}: ${res.status} ${await res.text()}`);
  return res;
}

const login = async (base: string, username: string): Promise<Tokens> =>
  (await (
    await call(`${base}/auth/login`, { method: 'POST', headers: json, body: JSON.stringify({ username, password: PASSWORD }), expect: 200 })
  ).json()) as Tokens;

const refresh = (base: string, token: string): Promise<Response> =>
  fetch(`${base}/auth/refresh`, { method: 'POST', headers: json, body: JSON.stringify({ refresh_token: token }) });

function quantiles(samples: number[]): { p50: number; p99: number; max: number } {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] ?? Number.NaN;
  return { p50: at(0.5), p99: at(0.99), max: sorted.at(-1) ?? Number.NaN };
}

/**
 * CLIENTS clients, each a loop of: log in, then 10 × (4 × GET /me, 1 refresh), then log out; every
 * request goes to the next instance in turn. Any answer other than the expected one is a failure.
 */
async function mixedLoad(bases: readonly string[], username: string, seconds: number): Promise<{ perSecond: number; failed: number }> {
  let done = 0;
  let failed = 0;
  let turn = 0;
  const next = () => bases[turn++ % bases.length]!;
  const deadline = performance.now() + seconds * 1000;
  const expect = async (res: Promise<Response>, status: number): Promise<Response | undefined> => {
    const r = await res;
    done += 1;
    if (r.status === status) return r;
    failed += 1;
    await r.body?.cancel();
    return undefined;
  };
  await Promise.all(
    Array.from({ length: CLIENTS }, async () => {
      while (performance.now() < deadline) {
        const signedIn = await expect(
          fetch(`${next()}/auth/login`, { method: 'POST', headers: json, body: JSON.stringify({ username, password: PASSWORD }) }),
          200,
        );
        if (signedIn === undefined) continue;
        let tokens = (await signedIn.json()) as Tokens;
        for (let i = 0; i < 10 && performance.now() < deadline; i++) {
          for (let j = 0; j < 4; j++) await (await expect(fetch(`${next()}/me`, { headers: bearer(tokens.access_token) }), 200))?.arrayBuffer();
          const rotated = await expect(refresh(next(), tokens.refresh_token), 200);
          if (rotated === undefined) break;
          tokens = (await rotated.json()) as Tokens;
        }
        await expect(fetch(`${next()}/auth/logout`, { method: 'POST', headers: bearer(tokens.access_token) }), 204);
      }
    }),
  );
  return { perSecond: done / seconds, failed };
}

/** From `from`'s answer to `to`'s first 401 for the token, polled every 2 ms. */
async function until401(to: string, accessToken: string): Promise<number> {
  const t0 = performance.now();
  for (;;) {
    const res = await fetch(`${to}/me`, { headers: bearer(accessToken) });
    await res.arrayBuffer();
    if (res.status === 401) return performance.now() - t0;
    if (res.status !== 200) throw new Error(`propagation poll: ${res.status}`);
    if (performance.now() - t0 > 5_000) throw new Error('a revoked token still works on another instance after 5 s');
    await new Promise((r) => setTimeout(r, 2));
  }
}

type Kind = 'session' | 'user' | 'token';

async function propagation(bases: readonly string[], username: string, kind: Kind): Promise<number[]> {
  const delays: number[] = [];
  let chain: Tokens | undefined;
  for (let i = 0; i < SAMPLES; i++) {
    const from = bases[i % bases.length]!;
    const to = bases[(i + 1) % bases.length]!;
    let access: string;
    if (kind === 'token') {
      chain ??= await login(from, username);
      chain = (await (
        await call(`${from}/auth/refresh`, { method: 'POST', headers: json, body: JSON.stringify({ refresh_token: chain.refresh_token }), expect: 200 })
      ).json()) as Tokens;
      access = chain.access_token;
    } else {
      access = (await login(from, username)).access_token;
    }
    await (await call(`${to}/me`, { headers: bearer(access), expect: 200 })).arrayBuffer();
    if (kind === 'session') await call(`${from}/auth/logout`, { method: 'POST', headers: bearer(access), expect: 204 });
    else if (kind === 'user') await call(`${from}/auth/logout-all`, { method: 'POST', headers: bearer(access), expect: 204 });
    else
      await call(`${from}/auth/revoke`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ token: access, token_type_hint: 'access_token' }).toString(),
        expect: 200,
      });
    delays.push(await until401(to, access));
  }
  return delays;
}

/** RACERS exchanges of one refresh token at once, spread over the instances: distinct successors handed out. */
async function races(bases: readonly string[], username: string): Promise<{ maxSuccessors: number; roundsWithOne: number; reuseRevoked: number }> {
  let maxSuccessors = 0;
  let roundsWithOne = 0;
  let reuseRevoked = 0;
  for (let round = 0; round < RACES; round++) {
    const { refresh_token: token } = await login(bases[round % bases.length]!, username);
    const answers = await Promise.all(Array.from({ length: RACERS }, (_, i) => refresh(bases[i % bases.length]!, token)));
    const successors = new Set<string>();
    for (const res of answers) {
      if (res.status === 200) successors.add(((await res.json()) as Tokens).refresh_token);
      else await res.arrayBuffer();
    }
    maxSuccessors = Math.max(maxSuccessors, successors.size);
    if (successors.size === 1) roundsWithOne += 1;
    // Strict reuse detection: the losers' presentations revoke the session, the winner's successor with it.
    for (const successor of successors) if ((await refresh(bases[0]!, successor)).status !== 200) reuseRevoked += 1;
  }
  return { maxSuccessors, roundsWithOne, reuseRevoked };
}

async function keyRotation(
  bases: readonly string[],
  username: string,
  cliEnv: Record<string, string>,
): Promise<{ requests: number; failed: number; switchedMs: number; newKid: string }> {
  const kidOf = (t: Tokens) => String(decodeProtectedHeader(t.access_token).kid);
  const oldKid = kidOf(await login(bases[0]!, username));
  const stop = { now: false };
  const load = (async () => {
    let requests = 0;
    let failed = 0;
    await Promise.all(
      Array.from({ length: 8 }, async (_, c) => {
        let tokens = await login(bases[c % bases.length]!, username);
        let turn = c;
        while (!stop.now) {
          const base = bases[turn++ % bases.length]!;
          const me = await fetch(`${base}/me`, { headers: bearer(tokens.access_token) });
          await me.arrayBuffer();
          const rotated = await refresh(bases[turn++ % bases.length]!, tokens.refresh_token);
          requests += 2;
          if (me.status !== 200) failed += 1;
          if (rotated.status !== 200) {
            failed += 1;
            await rotated.arrayBuffer();
            tokens = await login(base, username);
          } else tokens = (await rotated.json()) as Tokens;
        }
      }),
    );
    return { requests, failed };
  })();
  const t0 = performance.now();
  const cli = await runCli(['keys', 'rotate', '--json'], { env: cliEnv });
  if (cli.status !== 0) throw new Error(`gatehouse keys rotate: ${String(cli.status)}\n${cli.stdout}${cli.stderr}`);
  const newKid = String((JSON.parse(cli.stdout) as { kid: string }).kid);
  // Until every instance signs with the new key, then a few more seconds of load on both keys' tokens.
  for (;;) {
    const kids = await Promise.all(bases.map(async (b) => kidOf(await login(b, username))));
    if (kids.every((k) => k === newKid)) break;
    if (performance.now() - t0 > 90_000) throw new Error(`after 90 s not every instance signs with ${newKid} (old ${oldKid}): ${kids.join(', ')}`);
    await new Promise((r) => setTimeout(r, 250));
  }
  const switchedMs = performance.now() - t0;
  await new Promise((r) => setTimeout(r, 3_000));
  stop.now = true;
  return { ...(await load), switchedMs, newKid };
}

export async function runClusterBench(): Promise<void> {
  const missing = privatePostgresUnavailable ?? (hasRedisServer ? undefined : 'no redis-server on PATH (apt-get install -y redis-server)');
  if (missing !== undefined) {
    console.log(`Cluster bench skipped: ${missing}.`);
    return;
  }
  const postgres = await startPrivatePostgres();
  const redisPort = await freePort();
  const redis = await startRedis(redisPort);
  const dirs = await Promise.all([0, 1, 2].map(() => mkdtemp(path.join(tmpdir(), 'gh-bench-cluster-'))));
  const instances: EmbeddedServer[] = [];
  const shared = {
    GATEHOUSE_DATABASE_URL: postgres.url,
    GATEHOUSE_REDIS_URL: `redis://127.0.0.1:${String(redisPort)}`,
    GATEHOUSE_ISSUER: 'http://gatehouse.cluster.test',
    GATEHOUSE_KEY_SOURCE: 'store',
    GATEHOUSE_KEY_ENCRYPTION_KEY: randomBytes(32).toString('base64url'),
    GATEHOUSE_API_KEY_PEPPER: randomBytes(32).toString('base64url'),
    GATEHOUSE_JWKS_MAX_AGE_SECONDS: '0',
    GATEHOUSE_ACCESS_TOKEN_TTL: '60',
    GATEHOUSE_LOG_LEVEL: 'warn',
    // Every request of the bench comes from 127.0.0.1.
    ...LIMITS_OFF,
  };
  try {
    // One at a time: the first applies the migrations and creates the first signing key.
    for (const dir of dirs) instances.push(await startEmbeddedServer(dir, shared));
    const bases = instances.map((i) => i.base);
    const username = 'clusterbench';
    await call(`${bases[0]!}/auth/register`, { method: 'POST', headers: json, body: JSON.stringify({ username, password: PASSWORD }), expect: 201 });

    const one = await mixedLoad([bases[0]!], username, SECONDS / 2);
    const three = await mixedLoad(bases, username, SECONDS / 2);
    const oneAgain = await mixedLoad([bases[0]!], username, SECONDS / 2);
    const threeAgain = await mixedLoad(bases, username, SECONDS / 2);
    const single = (one.perSecond + oneAgain.perSecond) / 2;
    const spread = (three.perSecond + threeAgain.perSecond) / 2;
    const failedLoad = one.failed + three.failed + oneAgain.failed + threeAgain.failed;

    const propagationRows: string[][] = [];
    for (const kind of ['session', 'user', 'token'] as const) {
      const q = quantiles(await propagation(bases, username, kind));
      propagationRows.push([
        `revocation propagation, ${kind} (${String(SAMPLES)})`,
        `p50 ${q.p50.toFixed(1)} ms, p99 ${q.p99.toFixed(1)} ms, max ${q.max.toFixed(1)} ms`,
        '',
        'p99 <= 1000 ms',
        q.p99 <= 1000 ? 'ok' : 'MISSED',
      ]);
    }
    const race = await races(bases, username);
    const cliEnv = { GATEHOUSE_ENV: 'development', GATEHOUSE_DATA_DIR: dirs[0]!, ...shared };
    const rotation = await keyRotation(bases, username, cliEnv);
    printTable([
      ['three instances, one PostgreSQL + one Redis', 'result', 'baseline (same run)', 'target', ''],
      [
        `mixed load, ${String(CLIENTS)} clients spread over 3`,
        `${spread.toFixed(0)} req/s (${(spread / single).toFixed(2)}x)`,
        `one instance: ${single.toFixed(0)} req/s`,
        'reported (2 cores)',
        '',
      ],
      ['failed requests under mixed load', String(failedLoad), '', '0', failedLoad === 0 ? 'ok' : 'MISSED'],
      ...propagationRows,
      [
        `refresh races (${String(RACERS)} at once × ${String(RACES)})`,
        `at most ${String(race.maxSuccessors)} successor; ${String(race.roundsWithOne)}/${String(RACES)} rounds one winner`,
        `successor then refused (reuse revoked the session): ${String(race.reuseRevoked)}`,
        'never 2 successors',
        race.maxSuccessors <= 1 ? 'ok' : 'MISSED',
      ],
      [
        'gatehouse keys rotate while serving',
        `${String(rotation.failed)} failed of ${String(rotation.requests)}`,
        `all three signing with the new key after ${(rotation.switchedMs / 1000).toFixed(1)} s`,
        '0 failed',
        rotation.failed === 0 ? 'ok' : 'MISSED',
      ],
    ]);
    console.log(
      `Mixed load: ${String(CLIENTS)} clients, each: log in, 10 × (4 × GET /me + 1 refresh), log out; every request to the next instance in turn; one / three / one / three, ${String(SECONDS / 2)} s each. ` +
        'The three instances, PostgreSQL, Redis and the load generator share the same 2 cores, so three instances cannot be faster than one here; the ratio shows what spreading costs (cross-instance reads of the user and session caches, feed traffic), not scaling.',
    );
  } finally {
    await Promise.all(instances.map((i) => stopServer(i.child, 'SIGTERM')));
    await killRedis(redis);
    postgres.destroy();
    await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
  }
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) await runClusterBench();
