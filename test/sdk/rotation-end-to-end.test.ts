import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { after, test } from 'node:test';
import { serve, type ServerType } from '@hono/node-server';
import { decodeProtectedHeader } from 'jose';
import { createInventoryApp } from '../../examples/inventory-service/src/app.js';
import { keys, OPERATOR, startStoreApp, testClock } from '../keys/stored-key-support.js';
import { TEST_ISSUER, type TestApp } from '../support/test-app.js';

const MAX_AGE_S = 60;
const STEP_MS = 5_000;
const WORKERS = 6;

let gatehouse: TestApp | undefined;
let server: ServerType | undefined;
after(async () => {
  await new Promise((r) => (server === undefined ? r(undefined) : server.close(() => r(undefined))));
  await gatehouse?.close();
});

/**
 * Issue 6's promise, end to end: a real Gatehouse on stored keys rotates its signing key twice
 * (its own scheduler, its own timings, its JWKS over HTTP) while clients keep refreshing tokens
 * and calling a resource server that verifies them through the SDK. The SDK's unknown-kid refetch
 * is off (an hour's cooldown): only the lifecycle's "publish one max-age before signing" can bring
 * each new key in time. Both sides share one clock, so the ~35 minutes of the timeline pass in
 * seconds; nobody sleeps on a timer.
 */
test('rotation under load, end to end: two rotations of stored keys, clients hammering a resource server through the SDK, 0 failed requests', async () => {
  const clock = testClock();
  // The clients refresh far faster than any person would; the limits would stop them, not the keys.
  const limitsOff = { GATEHOUSE_LIMIT_REFRESH_SESSION: 'off', GATEHOUSE_LIMIT_GLOBAL_IP: 'off' };
  gatehouse = await startStoreApp({ clock, env: { GATEHOUSE_JWKS_MAX_AGE_SECONDS: String(MAX_AGE_S), ...limitsOff } });
  await gatehouse.app.listen({ port: 0, host: '127.0.0.1' });
  const issuerBase = `http://127.0.0.1:${(gatehouse.app.server.address() as AddressInfo).port}`;
  const { app } = createInventoryApp({
    issuer: TEST_ISSUER,
    audience: TEST_ISSUER,
    jwksUri: `${issuerBase}/.well-known/jwks.json`,
    jwksCache: { cooldownSeconds: 3600, minMaxAgeSeconds: 0, now: clock.now },
    now: clock.now,
  });
  const port = await new Promise<number>((resolve) => {
    server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, (info) => resolve(info.port));
  });

  await gatehouse.register('rotation_client');
  const first = await gatehouse.login('rotation_client');
  const initialKid = decodeProtectedHeader(first.access_token).kid as string;

  let running = true;
  const statuses = new Map<number, number>();
  const kidsSeen = new Set<string>();
  const worker = async (refreshToken: string) => {
    while (running) {
      // A fresh access token each round: signed by whatever key is active at this moment.
      const refreshed = await fetch(`${issuerBase}/auth/refresh`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ refresh_token: refreshToken }),
      });
      assert.equal(refreshed.status, 200, await refreshed.clone().text());
      const tokens = (await refreshed.json()) as { access_token: string; refresh_token: string };
      refreshToken = tokens.refresh_token;
      kidsSeen.add(decodeProtectedHeader(tokens.access_token).kid as string);
      for (let i = 0; i < 5 && running; i++) {
        const res = await fetch(`http://127.0.0.1:${port}/items`, { headers: { authorization: `Bearer ${tokens.access_token}` } });
        await res.arrayBuffer();
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
      }
    }
  };
  const sessions = await Promise.all(
    Array.from({ length: WORKERS }, async () => (await gatehouse!.login('rotation_client')) as unknown as { refresh_token: string }),
  );
  const workers = sessions.map((s) => worker(s.refresh_token));

  const management = keys(gatehouse).management;
  const tick = async (ms: number, stepMs = STEP_MS) => {
    for (let done = 0; done < ms; done += stepMs) {
      clock.advance(stepMs);
      await management.advance(); // the scheduler step every instance runs
      await new Promise((r) => setTimeout(r, 15)); // let requests run at this moment of the timeline
    }
  };
  const ttlMs = gatehouse.services.config.accessTokenTtlSeconds * 1000;
  for (let round = 0; round < 2; round++) {
    await management.rotate({}, OPERATOR);
    await tick(MAX_AGE_S * 1000 + 2 * STEP_MS); // the new key signs once a max-age has passed
    // The old one leaves once its last token has expired; nothing is due meanwhile, so coarser steps.
    await tick(ttlMs + 30_000 + 20_000, 6 * STEP_MS);
  }
  running = false;
  await Promise.all(workers);

  const total = [...statuses.values()].reduce((a, b) => a + b, 0);
  assert.deepEqual([...statuses.keys()], [200], `statuses: ${JSON.stringify(Object.fromEntries(statuses))}`);
  assert.ok(total > 200, `only ${total} requests`);
  const listed = await management.list(true);
  assert.equal(listed.filter((k) => k.state === 'retired').length, 2, 'both old keys retired');
  assert.ok(kidsSeen.size >= 3 && kidsSeen.has(initialKid), `tokens were signed by three keys: ${[...kidsSeen].join(', ')}`);
});
