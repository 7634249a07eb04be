import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import { gatehouseSocket } from '../src/http/gatehouse-socket.js';
import { LIMIT_NAMES } from '../src/throttle/limit-spec.js';
import { bearer, startTestApp, type TestApp } from '../test/support/test-app.js';
import { openSocket, opened, wsBase, type ClientSocket } from '../test/support/ws-client.js';
import { perSecond, printTable } from './bench-table.js';

/**
 * Part of `npm run bench` (also alone: `npx tsx --conditions=gatehouse-source bench/websockets.ts`):
 * issue 14's socket figures, on the embedded stores, one process (the `ws` clients share it with
 * the server, so the memory figure is an upper bound for the server's share):
 * - WebSocket tickets issued (`POST /auth/ws-ticket`, injected) and redeemed per second, beside
 *   `GET /me` injected per second in the same run;
 * - 1,000 open sockets: resident memory added; then every user's tokens revoked one user at a
 *   time, and the time from each revocation to each of its sockets' 4401 close (p50, p99, max).
 */
const TICKETS = Number(process.env.BENCH_TICKETS ?? '2000');
const USERS = Number(process.env.BENCH_SOCKET_USERS ?? '100');
const SOCKETS_PER_USER = Number(process.env.BENCH_SOCKETS_PER_USER ?? '10');
const ORIGIN = 'https://app.bench.test';
const CLOSE_TARGET_MS = 1_000;

const echo = (app: FastifyInstance) => gatehouseSocket(app, '/ws', { onMessage: (connection, message) => connection.send(message) });

async function ticket(t: TestApp, token: string): Promise<string> {
  const res = await t.inject({ method: 'POST', url: '/auth/ws-ticket', headers: { ...bearer(token), origin: ORIGIN } });
  if (res.statusCode !== 200) throw new Error(`ws-ticket: ${res.statusCode} ${res.body}`);
  return res.json<{ ticket: string }>().ticket;
}

const percentile = (sorted: readonly number[], p: number): number => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;

async function settledRssMb(): Promise<number> {
  global.gc?.();
  await new Promise((resolve) => setTimeout(resolve, 500));
  return process.memoryUsage().rss / 1024 / 1024;
}

export async function runWebSocketBench(): Promise<void> {
  // Limits off: one address makes every request here, which is what the per-address ceiling is for.
  const limitsOff = Object.fromEntries(LIMIT_NAMES.map((name) => [`GATEHOUSE_LIMIT_${name}`, 'off']));
  const t = await startTestApp({ env: { ...limitsOff, GATEHOUSE_ALLOWED_ORIGINS: ORIGIN, GATEHOUSE_LOG_LEVEL: 'warn' }, extraRoutes: echo });
  try {
    await t.register('bench-tickets');
    const token = (await t.login('bench-tickets')).access_token;
    const me = await perSecond(TICKETS, async () => {
      if ((await t.inject({ method: 'GET', url: '/me', headers: bearer(token) })).statusCode !== 200) throw new Error('GET /me failed');
    });
    const tickets = await perSecond(TICKETS, async () => {
      await t.services.wsTickets.redeem(await ticket(t, token), ORIGIN);
    });

    const base = await wsBase(t.app);
    const users: { id: string; sockets: ClientSocket[] }[] = [];
    const before = await settledRssMb();
    for (let u = 0; u < USERS; u++) {
      const { id } = await t.register(`bench-socket-${u}`);
      const userToken = (await t.login(`bench-socket-${u}`)).access_token;
      const sockets: ClientSocket[] = [];
      for (let s = 0; s < SOCKETS_PER_USER; s++) sockets.push(opened(await openSocket(`${base}/ws?ticket=${await ticket(t, userToken)}`, ORIGIN)));
      users.push({ id, sockets });
    }
    const withSockets = await settledRssMb();
    const latencies: number[] = [];
    for (const { id, sockets } of users) {
      const start = performance.now();
      const closes = sockets.map((socket) =>
        socket.closed.then(({ code }) => {
          if (code !== 4401) throw new Error(`closed with ${code}`);
          latencies.push(performance.now() - start);
        }),
      );
      await t.services.revocations.revokeEverythingOfUser(id, 'bench', new Date());
      await Promise.all(closes);
    }
    latencies.sort((a, b) => a - b);
    const p99 = percentile(latencies, 99);
    const total = USERS * SOCKETS_PER_USER;
    const rows = [
      ['WebSockets (issue 14)', 'result', 'baseline (same run)', 'ratio', 'target', ''],
      ['ticket issue + redeem', `${tickets.toFixed(0)}/s`, `GET /me: ${me.toFixed(0)}/s`, `${(tickets / me).toFixed(2)}x`, 'reported', ''],
      [
        `${total.toLocaleString('en-US')} open sockets: RSS added`,
        `${(withSockets - before).toFixed(1)} MB`,
        `before: ${before.toFixed(1)} MB`,
        `${(((withSockets - before) * 1024) / total).toFixed(1)} KB/socket`,
        'reported',
        '',
      ],
      [
        'revocation → 4401 close',
        `p99 ${p99.toFixed(1)} ms`,
        `p50 ${percentile(latencies, 50).toFixed(1)} ms, max ${latencies.at(-1)!.toFixed(1)} ms`,
        '',
        `p99 <= ${CLOSE_TARGET_MS} ms`,
        p99 <= CLOSE_TARGET_MS ? 'ok' : 'MISSED',
      ],
    ];
    printTable(rows);
    console.log(
      `${TICKETS} tickets, ${USERS} users x ${SOCKETS_PER_USER} sockets (BENCH_TICKETS, BENCH_SOCKET_USERS, BENCH_SOCKETS_PER_USER); clients and server in one process, so the RSS is an upper bound.`,
    );
  } finally {
    await t.close();
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await runWebSocketBench();
