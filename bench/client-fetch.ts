import { fileURLToPath } from 'node:url';
import { GatehouseClient } from '../packages/client/src/index.js';
import { start } from './child-server.js';

/**
 * @gatehouse/client in Node, against servers in their own processes (the load shares the cores
 * with them): the fetch wrapper's overhead against plain `fetch` with the same Authorization
 * header, 50 calls in flight, on the bare Fastify hello (so the wrapper's cost is not hidden behind
 * a slow route); and refreshes per second of 50 concurrent clients (50 sessions) against Gatehouse,
 * against the same refreshes as plain `fetch` calls. Plain and wrapped alternate in rounds; best
 * round each, since noise only ever slows a round down.
 */
const SECONDS = Number(process.env.BENCH_SECONDS ?? '10');
const CONCURRENCY = 50;
const ROUNDS = 3;
const PASSWORD = 'correct horse battery staple';

/** Calls per second of `concurrency` loops running `call` for `seconds`. */
async function rate(concurrency: number, seconds: number, call: (worker: number) => Promise<void>): Promise<number> {
  const until = performance.now() + seconds * 1000;
  let done = 0;
  const loop = async (worker: number) => {
    while (performance.now() < until) {
      await call(worker);
      done++;
    }
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: concurrency }, (_, i) => loop(i)));
  return done / ((performance.now() - started) / 1000);
}

const ok = async (response: Response): Promise<void> => {
  if (!response.ok) throw new Error(`${response.url}: HTTP ${response.status}`);
  await response.arrayBuffer();
};

const best = (values: number[]): number => Math.max(...values);

export interface ClientFetchResult {
  readonly plainFetch: number;
  readonly wrappedFetch: number;
  readonly plainRefreshes: number;
  readonly clientRefreshes: number;
}

export async function measureClientFetch(): Promise<ClientFetchResult> {
  const hello = start('./servers/bare-fastify.ts');
  const gatehouse = start('./servers/gatehouse.ts', { GATEHOUSE_LOG_LEVEL: 'warn' });
  try {
    const helloUrl = `${String((await hello.next('ready')).address)}/hello`;
    const baseUrl = String((await gatehouse.next('ready')).address);
    const post = (path: string, body: unknown) =>
      fetch(`${baseUrl}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const clients: GatehouseClient[] = [];
    const tokens: string[] = [];
    for (let i = 0; i < CONCURRENCY; i++) {
      const credentials = { username: `bench-client-${i}`, password: PASSWORD };
      await ok(await post('/auth/register', credentials));
      const client = new GatehouseClient({ baseUrl, proactiveRefresh: false });
      await client.signIn(credentials);
      clients.push(client);
      // The plain side's sessions: their own, so neither side spends the other's token.
      const login = await post('/auth/login', credentials);
      tokens.push(((await login.json()) as { refresh_token: string }).refresh_token);
    }
    const [one] = clients as [GatehouseClient];
    const header = { authorization: `Bearer ${String(await one.refresh())}` };
    const seconds = Math.max(1, SECONDS / ROUNDS);
    const rates = { plainFetch: [] as number[], wrappedFetch: [] as number[], plainRefreshes: [] as number[], clientRefreshes: [] as number[] };
    for (let round = 0; round < ROUNDS; round++) {
      rates.plainFetch.push(await rate(CONCURRENCY, seconds, async () => ok(await fetch(helloUrl, { headers: header }))));
      rates.wrappedFetch.push(await rate(CONCURRENCY, seconds, async () => ok(await one.fetch(helloUrl))));
      rates.plainRefreshes.push(
        await rate(CONCURRENCY, seconds, async (worker) => {
          const response = await post('/auth/refresh', { refresh_token: tokens[worker] });
          if (!response.ok) throw new Error(`plain refresh: HTTP ${response.status}`);
          tokens[worker] = ((await response.json()) as { refresh_token: string }).refresh_token;
        }),
      );
      rates.clientRefreshes.push(
        await rate(CONCURRENCY, seconds, async (worker) => {
          if ((await clients[worker]!.refresh()) === undefined) throw new Error('client refresh signed out');
        }),
      );
    }
    for (const client of clients) client.close();
    return {
      plainFetch: best(rates.plainFetch),
      wrappedFetch: best(rates.wrappedFetch),
      plainRefreshes: best(rates.plainRefreshes),
      clientRefreshes: best(rates.clientRefreshes),
    };
  } finally {
    hello.child.kill();
    gatehouse.child.kill();
  }
}

export async function runClientFetchBench(): Promise<void> {
  const r = await measureClientFetch();
  const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
  const overhead = 1 - r.wrappedFetch / r.plainFetch;
  const rows = [
    ['measurement (@gatehouse/client, Node)', 'result', 'baseline (same run)', 'ratio', 'target', ''],
    [
      `client.fetch, ${CONCURRENCY} in flight`,
      `${fmt(r.wrappedFetch)} req/s`,
      `fetch + Authorization: ${fmt(r.plainFetch)} req/s`,
      `${(r.wrappedFetch / r.plainFetch).toFixed(2)}x (${(overhead * 100).toFixed(1)}% overhead)`,
      '<= 5% overhead',
      overhead <= 0.05 ? 'ok' : 'MISSED',
    ],
    [
      `client.refresh, ${CONCURRENCY} clients`,
      `${fmt(r.clientRefreshes)} /s`,
      `POST /auth/refresh with fetch: ${fmt(r.plainRefreshes)} /s`,
      `${(r.clientRefreshes / r.plainRefreshes).toFixed(2)}x`,
      'informational',
      '',
    ],
  ];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)));
  console.log('');
  for (const row of rows) console.log(row.map((cell, i) => cell.padEnd(widths[i]!)).join(' | '));
  console.log(`${ROUNDS} rounds of ${Math.max(1, SECONDS / ROUNDS).toFixed(1)} s per column, alternating, best round each; Gatehouse on embedded PGlite.`);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await runClientFetchBench();
