import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { LightMyRequestResponse } from 'fastify';
import { checkRoutes, collectRoutes, hasUnexpectedFlag, type InventoryRoute } from '../../src/cli/route-inventory.js';
import { PUBLIC } from '../../src/guard/requirement.js';
import { bearer, startTestApp, type TestApp } from '../support/test-app.js';

const SPA = 'https://spa.example.com';
const OTHER = 'https://other.example.com';

const CORS_HEADERS = [
  'access-control-allow-origin',
  'access-control-allow-credentials',
  'access-control-allow-methods',
  'access-control-allow-headers',
  'access-control-expose-headers',
  'access-control-max-age',
];

function assertNoCors(response: LightMyRequestResponse, context: string): void {
  for (const name of CORS_HEADERS) assert.equal(response.headers[name], undefined, `${context}: ${name}: ${String(response.headers[name])}`);
}

const preflight = (origin: string, url = '/me') => ({
  method: 'OPTIONS' as const,
  url,
  headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization, content-type' },
});

describe('CORS with GATEHOUSE_CORS_ORIGINS', () => {
  let t: TestApp;
  let routes: InventoryRoute[];
  before(async () => {
    const collected = await collectRoutes(async () => {
      t = await startTestApp({ env: { GATEHOUSE_CORS_ORIGINS: `${SPA}, ${OTHER}` } });
      return t.app;
    });
    routes = collected.routes;
  });
  after(() => t.close());

  test('malicious: an unlisted origin gets no CORS header at all, never Access-Control-Allow-Credentials', async () => {
    const simple = await t.inject({ method: 'GET', url: '/healthz', headers: { origin: 'https://evil.test' } });
    assert.equal(simple.statusCode, 200);
    assertNoCors(simple, 'simple request');
    assert.match(String(simple.headers.vary), /Origin/i, 'a cache keeps answers to different origins apart');
    const pre = await t.inject(preflight('https://evil.test'));
    assert.equal(pre.statusCode, 404);
    assertNoCors(pre, 'preflight');
    assert.equal(pre.headers['content-type'], 'application/problem+json; charset=utf-8');
  });

  test('malicious: look-alikes of a listed origin are unlisted (suffix, scheme, port, case, subdomain, null, a list)', async () => {
    for (const origin of [
      'https://spa.example.com.evil.test',
      'http://spa.example.com',
      'https://spa.example.com:8443',
      'https://SPA.example.com',
      'https://evil.spa.example.com',
      'https://spa.example.com/',
      'null',
      `${SPA}, https://evil.test`,
      `${SPA} ${OTHER}`,
    ]) {
      assertNoCors(await t.inject({ method: 'GET', url: '/healthz', headers: { origin } }), origin);
      assertNoCors(await t.inject(preflight(origin)), `preflight ${origin}`);
    }
  });

  test('a request without Origin (same-origin, curl) gets no CORS header', async () => {
    assertNoCors(await t.inject({ method: 'GET', url: '/healthz' }), 'no Origin');
  });

  test('a listed origin: a simple request gets that origin and credentials, and can read a refusal too', async () => {
    const ok = await t.inject({ method: 'GET', url: '/healthz', headers: { origin: SPA } });
    assert.equal(ok.statusCode, 200);
    assert.equal(ok.headers['access-control-allow-origin'], SPA);
    assert.equal(ok.headers['access-control-allow-credentials'], 'true');
    assert.match(String(ok.headers.vary), /Origin/i);
    assert.match(String(ok.headers['access-control-expose-headers']), /WWW-Authenticate/);
    const refused = await t.inject({ method: 'GET', url: '/me', headers: { origin: OTHER } });
    assert.equal(refused.statusCode, 401);
    assert.equal(refused.headers['access-control-allow-origin'], OTHER);
  });

  test('a listed origin: the preflight is answered 204 with the methods and headers a bearer-token SPA needs', async () => {
    const pre = await t.inject(preflight(SPA, '/me/password'));
    assert.equal(pre.statusCode, 204);
    assert.equal(pre.headers['access-control-allow-origin'], SPA);
    assert.equal(pre.headers['access-control-allow-credentials'], 'true');
    assert.equal(pre.headers['access-control-allow-methods'], 'GET, POST, PUT, PATCH, DELETE');
    assert.equal(pre.headers['access-control-allow-headers'], 'Authorization, Content-Type, X-Request-Id');
    assert.match(String(pre.headers.vary), /Origin/i);
    assert.equal(pre.body, '');
  });

  test('the bearer call itself works cross-origin', async () => {
    await t.register('cors-user');
    const tokens = await t.login('cors-user');
    const me = await t.inject({ method: 'GET', url: '/me', headers: { ...bearer(tokens.access_token), origin: SPA } });
    assert.equal(me.statusCode, 200);
    assert.equal(me.headers['access-control-allow-origin'], SPA);
  });

  test('the preflight route is public by declaration, and `gatehouse routes` has nothing unexpected to say', () => {
    const options = routes.filter((r) => r.method === 'OPTIONS');
    assert.deepEqual(
      options.map((r) => [r.path, r.requirement, r.hidden]),
      [['*', PUBLIC, true]],
    );
    const reports = checkRoutes(routes, t.app.swagger() as Parameters<typeof checkRoutes>[1]);
    assert.equal(hasUnexpectedFlag(reports), false, JSON.stringify(reports.filter((r) => r.flags.length > 0)));
    const protectedCount = routes.filter((r) => r.requirement !== undefined && r.requirement !== PUBLIC).length;
    assert.ok(protectedCount > 10, 'the other routes kept their requirements');
  });
});

describe('CORS declares its own preflight route public, nothing else', () => {
  test('malicious: an undeclared OPTIONS wildcard route of a host still stops startup', async () => {
    await assert.rejects(
      startTestApp({
        env: { GATEHOUSE_CORS_ORIGINS: SPA },
        extraRoutes: (app) => {
          app.options('/host/*', async () => ({ ok: true }));
        },
      }),
      (error: Error) => error.name === 'UndeclaredRouteError' && /OPTIONS \/host\/\*/.test(error.message),
    );
  });
});

describe('CORS without GATEHOUSE_CORS_ORIGINS', () => {
  let t: TestApp;
  before(async () => {
    t = await startTestApp();
  });
  after(() => t.close());

  test('no CORS header for any origin, and no preflight route', async () => {
    assertNoCors(await t.inject({ method: 'GET', url: '/healthz', headers: { origin: SPA } }), 'simple');
    const pre = await t.inject(preflight(SPA));
    assert.equal(pre.statusCode, 404);
    assertNoCors(pre, 'preflight');
    assert.equal(t.app.printRoutes({ method: 'OPTIONS' }).includes('*'), false, t.app.printRoutes({ method: 'OPTIONS' }));
  });
});
