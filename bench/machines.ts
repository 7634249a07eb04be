import { fileURLToPath } from 'node:url';
import { createServiceAccount, createServiceAccountKey, serviceAccountDeps } from '../src/admin/service-accounts.js';
import { CLI_ACTOR } from '../src/cli/cli-services.js';
import { LIMIT_NAMES } from '../src/throttle/limit-spec.js';
import { bearer, startTestApp, type TestApp } from '../test/support/test-app.js';
import { perSecond, printTable } from './bench-table.js';

/**
 * Part of `npm run bench` (also alone: `npx tsx --conditions=gatehouse-source bench/machines.ts`):
 * issue 14's machine figures, on the embedded stores, requests injected (no sockets):
 * - `GET /me` with a service account's API key (`X-API-Key`) beside `GET /me` with a JWT, in
 *   alternating rounds of the same run; target: the key at least 0.9x the JWT (no database round
 *   trip per request once warm: the key row and the owner are cached, revocation still honoured);
 * - client-credentials grants per second (`POST /auth/token`, client_secret_basic), reported.
 */
const REQUESTS = Number(process.env.BENCH_MACHINE_REQUESTS ?? '4000');
const ROUNDS = 8;
const GRANTS = Number(process.env.BENCH_GRANTS ?? '1000');
const TARGET_RATIO = 0.9;

async function me(t: TestApp, headers: Record<string, string>): Promise<void> {
  const res = await t.inject({ method: 'GET', url: '/me', headers });
  if (res.statusCode !== 200) throw new Error(`GET /me: ${res.statusCode} ${res.body}`);
}

export async function runMachinesBench(): Promise<void> {
  // Limits off: one address and one key make every request here (the per-key limit is what they would meet).
  const limitsOff = Object.fromEntries(LIMIT_NAMES.map((name) => [`GATEHOUSE_LIMIT_${name}`, 'off']));
  const t = await startTestApp({ env: { ...limitsOff, GATEHOUSE_LOG_LEVEL: 'warn' } });
  try {
    await t.register('bench-person');
    const jwt = bearer((await t.login('bench-person')).access_token);
    const deps = serviceAccountDeps(t.services);
    const { account } = await createServiceAccount(deps, CLI_ACTOR, { name: 'bench-bot', roles: [] });
    const { token: key } = await createServiceAccountKey(deps, CLI_ACTOR, account.id, { name: 'bench', scopes: ['profile'] });
    const apiKey = { 'x-api-key': key };
    // Warm both paths (caches, JIT) before anything counts.
    for (let i = 0; i < 200; i++) await Promise.all([me(t, jwt), me(t, apiKey)]);
    let jwtRate = 0;
    let keyRate = 0;
    // Alternating which goes first, so neither path always meets the other's garbage collection.
    for (let round = 0; round < ROUNDS; round++) {
      const measure = async (headers: Record<string, string>) => perSecond(REQUESTS / ROUNDS, () => me(t, headers));
      if (round % 2 === 0) [jwtRate, keyRate] = [jwtRate + (await measure(jwt)), keyRate + (await measure(apiKey))];
      else [keyRate, jwtRate] = [keyRate + (await measure(apiKey)), jwtRate + (await measure(jwt))];
    }
    [jwtRate, keyRate] = [jwtRate / ROUNDS, keyRate / ROUNDS];
    const basic = `Basic ${Buffer.from(`${account.id}:${key}`).toString('base64')}`;
    const grants = await perSecond(GRANTS, async () => {
      const res = await t.inject({
        method: 'POST',
        url: '/auth/token',
        headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic },
        payload: 'grant_type=client_credentials',
      });
      if (res.statusCode !== 200) throw new Error(`client_credentials: ${res.statusCode} ${res.body}`);
    });
    const ratio = keyRate / jwtRate;
    printTable([
      ['Machines (issue 14)', 'result', 'baseline (same run)', 'ratio', 'target', ''],
      [
        'GET /me with an API key',
        `${keyRate.toFixed(0)}/s`,
        `JWT: ${jwtRate.toFixed(0)}/s`,
        `${ratio.toFixed(2)}x`,
        `>= ${TARGET_RATIO}x`,
        ratio >= TARGET_RATIO ? 'ok' : 'MISSED',
      ],
      ['client-credentials grants', `${grants.toFixed(0)}/s`, `GET /me JWT: ${jwtRate.toFixed(0)}/s`, `${(grants / jwtRate).toFixed(2)}x`, 'reported', ''],
    ]);
    console.log(
      `${REQUESTS} requests per path in ${ROUNDS} alternating rounds, ${GRANTS} grants (BENCH_MACHINE_REQUESTS, BENCH_GRANTS); injected, one process.`,
    );
  } finally {
    await t.close();
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await runMachinesBench();
