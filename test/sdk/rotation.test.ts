import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { serve, type ServerType } from '@hono/node-server';
import { Hono } from 'hono';
import { gatehouse, type GatehouseEnv } from '../../packages/verify/src/adapters/hono.js';
import { createVerifier } from '../../packages/verify/src/index.js';
import { sign, startJwksServer, testKey, type JwksServer, type TestKey } from './support.js';

const MAX_AGE_S = 1;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let jwks: JwksServer | undefined;
let server: ServerType | undefined;
after(async () => {
  await new Promise((r) => (server === undefined ? r(undefined) : server.close(() => r(undefined))));
  await jwks?.close();
});

/**
 * The lifecycle of issue 6 seen from a resource server: a new key is published one JWKS max-age
 * before it signs, the old one stays published a while after its last signature. A client hammers
 * the resource server while keys rotate twice. The unknown-kid refetch is disabled (cooldown of an
 * hour), so only honouring Cache-Control can bring the new keys in time.
 */
test('rotation under load: keys rotate twice while clients hammer a resource server, 0 failed requests', async () => {
  const keys: TestKey[] = [await testKey('EdDSA', 'key-a'), await testKey('EdDSA', 'key-b'), await testKey('EdDSA', 'key-c')];
  jwks = await startJwksServer([keys[0]!.publicJwk]);
  jwks.cacheControl = `public, max-age=${MAX_AGE_S}`;
  const verifier = createVerifier({
    issuer: 'https://issuer.test',
    audience: 'https://api.test',
    jwksUri: jwks.url,
    jwksCache: { minMaxAgeSeconds: 0, cooldownSeconds: 3600 },
  });
  const app = new Hono<GatehouseEnv>();
  app.get('/items', gatehouse(verifier, { scopes: ['profile'] }), (c) => c.json({ ok: c.get('gatehouse').subject }));
  const port = await new Promise<number>((resolve) => {
    server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, (info) => resolve(info.port));
  });

  let signer = keys[0]!;
  let running = true;
  const statuses = new Map<number, number>();
  const worker = async () => {
    while (running) {
      const token = await sign(signer);
      const res = await fetch(`http://127.0.0.1:${port}/items`, { headers: { authorization: `Bearer ${token}` } });
      await res.arrayBuffer();
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
    }
  };
  const workers = Array.from({ length: 8 }, worker);

  for (const next of [keys[1]!, keys[2]!]) {
    await sleep(300);
    jwks.keys = [signer.publicJwk, next.publicJwk]; // pending: published, not signing
    await sleep(MAX_AGE_S * 1000 + 500); // one cache lifetime (+ a margin for the in-flight refresh)
    signer = next; // active
    await sleep(500); // the retiring key stays published past its last token
    jwks.keys = [signer.publicJwk]; // retired
  }
  await sleep(300);
  running = false;
  await Promise.all(workers);

  const total = [...statuses.values()].reduce((a, b) => a + b, 0);
  assert.deepEqual([...statuses.keys()], [200], `statuses: ${JSON.stringify(Object.fromEntries(statuses))}`);
  assert.ok(total > 100, `only ${total} requests`);
  assert.ok(jwks.requests >= 3, 'the JWKS was refetched as its max-age ran out');
});
