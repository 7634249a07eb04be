import assert from 'node:assert/strict';
import { connect, type AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { serve } from '@hono/node-server';
import express from 'express';
import Fastify from 'fastify';
import { Hono } from 'hono';
import { gatehouse as expressGatehouse } from '../../packages/verify/src/adapters/express.js';
import { gatehouseFastify } from '../../packages/verify/src/adapters/fastify.js';
import { gatehouse as honoGatehouse, type GatehouseEnv } from '../../packages/verify/src/adapters/hono.js';
import { createVerifier, type Checks, type Verifier } from '../../packages/verify/src/index.js';
import { AUDIENCE, claims, ISSUER, sign, testKey, type TestKey } from './support.js';

const TENANT = '9b2f5a0e-3c1d-4e8f-a7b6-5d4c3b2a1f0e';
/** The same routes in every framework: path → checks. */
const ROUTES: Record<string, Checks> = {
  '/items': { scopes: ['inventory:read'] },
  '/both': { scopes: ['inventory:read', 'inventory:write'] },
  '/either': { scopes: ['inventory:read', 'inventory:write'], match: 'any' },
  '/admin': { roles: ['admin', 'owner'] },
  '/tenant': { tenant: true },
};

let key: TestKey;
let verifier: Verifier;
const closers: (() => Promise<void>)[] = [];

before(async () => {
  key = await testKey();
  verifier = createVerifier({ issuer: ISSUER, audience: AUDIENCE, jwks: { keys: [key.publicJwk] } });
});
after(async () => {
  await Promise.all(closers.map((c) => c()));
});

/** A GET over a raw socket, so repeated headers stay separate lines (fetch would join them). */
function rawStatus(base: string, path: string, authorization: readonly string[]): Promise<number> {
  const { hostname, port } = new URL(base);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname, () => {
      const headers = authorization.map((a) => `Authorization: ${a}\r\n`).join('');
      socket.write(`GET ${path} HTTP/1.1\r\nHost: ${hostname}\r\n${headers}Connection: close\r\n\r\n`);
    });
    let response = '';
    socket.on('data', (chunk: Buffer) => (response += chunk.toString('latin1')));
    socket.on('end', () => resolve(Number(/^HTTP\/1\.1 (\d{3})/.exec(response)?.[1] ?? 0)));
    socket.on('error', reject);
  });
}

async function startFastify(): Promise<string> {
  const app = Fastify();
  await app.register(gatehouseFastify, { verifier });
  app.get('/public', async (request) => ({ principal: request.gatehouse }));
  for (const [path, checks] of Object.entries(ROUTES)) {
    app.get(path, { config: { gatehouse: checks } }, async (request) => ({ subject: request.gatehouse?.subject }));
  }
  const address = await app.listen({ port: 0, host: '127.0.0.1' });
  closers.push(() => app.close());
  return address;
}

async function startExpress(): Promise<string> {
  const app = express();
  app.get('/public', (req, res) => void res.json({ principal: req.gatehouse ?? null }));
  for (const [path, checks] of Object.entries(ROUTES)) {
    app.get(path, expressGatehouse(verifier, checks), (req, res) => void res.json({ subject: req.gatehouse?.subject }));
  }
  const server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  closers.push(() => new Promise((resolve) => server.close(() => resolve())));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function startHono(): Promise<string> {
  const app = new Hono<GatehouseEnv>();
  app.get('/public', (c) => c.json({ principal: null }));
  for (const [path, checks] of Object.entries(ROUTES)) {
    app.get(path, honoGatehouse(verifier, checks), (c) => c.json({ subject: c.get('gatehouse').subject }));
  }
  const port = await new Promise<number>((resolve) => {
    const server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, (info) => resolve(info.port));
    closers.push(() => new Promise((r) => server.close(() => r())));
  });
  return `http://127.0.0.1:${port}`;
}

for (const [framework, start] of [
  ['Fastify plugin', startFastify],
  ['Express middleware', startExpress],
  ['Hono middleware', startHono],
] as const) {
  describe(`${framework} over real HTTP`, () => {
    let base: string;
    before(async () => {
      base = await start();
    });
    const get = (path: string, authorization?: string) => fetch(`${base}${path}`, authorization === undefined ? {} : { headers: { authorization } });
    const bearer = async (c: Record<string, unknown>) => `Bearer ${await sign(key, claims(c))}`;

    test('no token: 401 with a bare Bearer challenge (RFC 6750 §3)', async () => {
      const res = await get('/items');
      assert.equal(res.status, 401);
      assert.equal(res.headers.get('www-authenticate'), 'Bearer realm="api"');
      assert.match(res.headers.get('content-type') ?? '', /application\/problem\+json/);
      assert.equal(((await res.json()) as { code: string }).code, 'ERR_NO_CREDENTIAL');
    });

    test('an invalid or forged token: 401 invalid_token, no detail of which check failed', async () => {
      const forged = await testKey('EdDSA', key.kid);
      for (const authorization of [`Bearer ${await sign(forged)}`, 'Bearer abc.def.ghi', await bearer({ aud: 'https://other.test' })]) {
        const res = await get('/items', authorization);
        assert.equal(res.status, 401);
        assert.equal(res.headers.get('www-authenticate'), 'Bearer realm="api", error="invalid_token"');
        assert.equal(((await res.json()) as { detail: string }).detail, 'invalid token');
      }
    });

    test('a malformed Authorization header: 400 invalid_request', async () => {
      const res = await get('/items', 'Bearer two tokens');
      assert.equal(res.status, 400);
      assert.equal(res.headers.get('www-authenticate'), 'Bearer realm="api", error="invalid_request"');
    });

    test('malicious: a valid token in the query string, or in two Authorization headers, is refused as the server refuses it (400)', async () => {
      const token = await sign(key, claims({ scope: 'inventory:read' }));
      const query = await fetch(`${base}/items?access_token=${token}`);
      assert.equal(query.status, 400);
      assert.equal(query.headers.get('www-authenticate'), 'Bearer realm="api", error="invalid_request"');
      assert.equal(await rawStatus(base, '/items', [`Bearer ${token}`, `Bearer ${token}`]), 400);
      assert.equal(await rawStatus(base, '/items', [`Bearer ${token}`]), 200, 'the same token in one header passes');
    });

    test('missing scope: 403 insufficient_scope naming the scopes', async () => {
      const res = await get('/both', await bearer({ scope: 'inventory:read' }));
      assert.equal(res.status, 403);
      assert.equal(res.headers.get('www-authenticate'), 'Bearer realm="api", error="insufficient_scope", scope="inventory:read inventory:write"');
      assert.deepEqual(((await res.json()) as { required_scopes: string[] }).required_scopes, ['inventory:read', 'inventory:write']);
    });

    test('scopes: all by default, any on request', async () => {
      assert.equal((await get('/both', await bearer({ scope: 'inventory:read inventory:write' }))).status, 200);
      assert.equal((await get('/either', await bearer({ scope: 'inventory:write' }))).status, 200);
      assert.equal((await get('/either', await bearer({ scope: 'profile' }))).status, 403);
    });

    test('missing role: 403 problem+json ERR_FORBIDDEN, no bearer challenge', async () => {
      const res = await get('/admin', await bearer({ roles: ['user'] }));
      assert.equal(res.status, 403);
      assert.equal(res.headers.get('www-authenticate'), null);
      assert.equal(((await res.json()) as { code: string }).code, 'ERR_FORBIDDEN');
      assert.equal((await get('/admin', await bearer({ roles: ['user', 'owner'] }))).status, 200);
    });

    test('tenant: true refuses a token without tid and passes one with it', async () => {
      assert.equal((await get('/tenant', await bearer({}))).status, 403);
      assert.equal((await get('/tenant', await bearer({ tid: TENANT }))).status, 200);
    });

    test('a valid token reaches the handler with the principal; undeclared routes stay public', async () => {
      const res = await get('/items', await bearer({ scope: 'inventory:read' }));
      assert.equal(res.status, 200);
      assert.deepEqual(await res.json(), { subject: '3f0c8a52-8a3e-4d59-9a57-0d6f1c2b7e41' });
      assert.deepEqual(await (await get('/public')).json(), { principal: null });
    });
  });
}

describe('adapters: declarations', () => {
  test('a malformed declaration fails at setup, not on the first request', () => {
    assert.throws(() => expressGatehouse(verifier, { scopes: ['has space'] }), TypeError);
    assert.throws(() => honoGatehouse(verifier, { match: 'some' as 'any' }), TypeError);
    assert.throws(() => honoGatehouse(verifier, { roles: 'admin' as unknown as string[] }), TypeError);
  });

  test('malicious: Fastify with requireDeclaration: a route without a declaration fails when added; public is said, not assumed', async () => {
    const app = Fastify();
    await app.register(gatehouseFastify, { verifier, requireDeclaration: true });
    assert.throws(() => app.get('/forgotten', async () => 'secret'), /declares no config.gatehouse/);
    app.get('/open', { config: { gatehouse: 'public' } }, async () => 'hello');
    app.get('/items', { config: { gatehouse: { scopes: ['inventory:read'] } } }, async () => 'items');
    assert.equal((await app.inject({ method: 'GET', url: '/open' })).statusCode, 200);
    assert.equal((await app.inject({ method: 'GET', url: '/items' })).statusCode, 401);
    await app.close();
  });

  test('Fastify: a malformed route declaration fails when the route is added', async () => {
    const app = Fastify();
    await app.register(gatehouseFastify, { verifier });
    assert.throws(() => app.get('/bad', { config: { gatehouse: { scopes: ['two words'] } } }, async () => 'never'), TypeError);
    await app.close();
  });
});
