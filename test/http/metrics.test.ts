import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import Fastify, { type FastifyInstance } from 'fastify';
import { PUBLIC } from '../../src/guard/requirement.js';
import { metricsPlugin } from '../../src/http/metrics-plugin.js';
import { isLoopbackHost } from '../../src/config/loopback-host.js';
import { startMetricsServer, type MetricsServer } from '../../src/http/metrics-server.js';
import { createGatehouseMetrics, type GatehouseMetrics } from '../../src/observability/metrics.js';
import { labelValues, parseExposition, sampleValue } from '../support/prometheus-text.js';
import { bearer, startTestApp, TEST_PASSWORD, type TestApp } from '../support/test-app.js';

const FORM = { 'content-type': 'application/x-www-form-urlencoded' };

interface Tokens {
  access_token: string;
  refresh_token: string;
}

async function scrape(server: MetricsServer, path = '/metrics'): Promise<Response> {
  return fetch(`${server.address}${path}`);
}

async function exposition(server: MetricsServer): Promise<string> {
  const res = await scrape(server);
  assert.equal(res.status, 200);
  return res.text();
}

async function formLogin(t: TestApp, username: string, password = TEST_PASSWORD): Promise<{ status: number; tokens: Tokens }> {
  const res = await t.inject({
    method: 'POST',
    url: '/auth/token',
    headers: FORM,
    payload: new URLSearchParams({ grant_type: 'password', username, password }).toString(),
  });
  return { status: res.statusCode, tokens: res.json<Tokens>() };
}

async function formRefresh(t: TestApp, refreshToken: string): Promise<number> {
  const res = await t.inject({
    method: 'POST',
    url: '/auth/token',
    headers: FORM,
    payload: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: refreshToken }).toString(),
  });
  return res.statusCode;
}

describe('metrics: the malicious cases', () => {
  let t: TestApp;
  let server: MetricsServer;
  before(async () => {
    t = await startTestApp();
    server = await startMetricsServer(t.services.metrics, { host: '127.0.0.1', port: 0 });
  });
  after(async () => {
    await server.close();
    await t.close();
  });

  test('the public app does not serve /metrics, in any spelling, with or without a token', async () => {
    await t.register('metrics-prober');
    const { tokens } = await formLogin(t, 'metrics-prober');
    for (const url of ['/metrics', '/metrics/', '/Metrics', '/metrics?format=prometheus']) {
      for (const headers of [{}, bearer(tokens.access_token)]) {
        const res = await t.inject({ method: 'GET', url, headers });
        assert.equal(res.statusCode, 404, `${url} ${res.body}`);
        assert.doesNotMatch(res.body, /# (HELP|TYPE)|http_request_duration/);
      }
    }
    const openapi = (await t.inject({ method: 'GET', url: '/openapi.json' })).json<{ paths: Record<string, unknown> }>();
    assert.ok(!Object.keys(openapi.paths).some((p) => p.includes('metrics')));
  });

  test('the metrics server answers GET /metrics only', async () => {
    const res = await scrape(server);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
    for (const path of ['/', '/metric', '/metrics/', '/me', '/auth/token', '/../metrics/x']) assert.equal((await scrape(server, path)).status, 404, path);
    for (const method of ['POST', 'PUT', 'DELETE']) assert.equal((await fetch(`${server.address}/metrics`, { method })).status, 404, method);
  });

  test('no token, username, password or query string reaches a label', async () => {
    const username = `leaky-${randomBytes(4).toString('hex')}`;
    await t.register(username);
    const { tokens } = await formLogin(t, username);
    await formLogin(t, username, 'a wrong password for this user');
    await t.inject({ method: 'POST', url: '/auth/login', headers: { 'content-type': 'application/json' }, payload: { username, password: TEST_PASSWORD } });
    // A token in the query string (refused: 400) and odd query strings on public and unknown routes.
    await t.inject({ method: 'GET', url: `/me?access_token=${tokens.access_token}` });
    await t.inject({ method: 'GET', url: '/me?access_token=secret-in-query', headers: bearer(tokens.access_token) });
    await t.inject({ method: 'GET', url: `/healthz?user=${username}` });
    await t.inject({ method: 'GET', url: `/no-such-route/${username}?token=secret-in-query` });
    assert.equal((await t.inject({ method: 'GET', url: '/me', headers: bearer(tokens.access_token) })).statusCode, 200);
    await formRefresh(t, tokens.refresh_token);

    const text = await exposition(server);
    for (const secret of [username, tokens.access_token, tokens.refresh_token, 'secret-in-query', TEST_PASSWORD, 'access_token=']) {
      assert.ok(!text.includes(secret), `exposition contains ${secret.slice(0, 20)}…`);
    }
    for (const sample of parseExposition(text)) {
      for (const value of Object.values(sample.labels)) assert.doesNotMatch(value, /[?=]|leaky-/, `${sample.name} ${value}`);
    }
    assert.ok((sampleValue(text, 'http_request_duration_seconds_count', { method: 'GET', route: '/me', status_class: '2xx' }) ?? 0) >= 1);
    assert.ok((sampleValue(text, 'http_request_duration_seconds_count', { method: 'GET', route: '/healthz', status_class: '2xx' }) ?? 0) >= 1);
  });

  test('the route label is the pattern (/me/sessions/:id), never the id', async () => {
    await t.register('device-owner');
    const { tokens } = await formLogin(t, 'device-owner');
    await formLogin(t, 'device-owner');
    const sessions = (await t.inject({ method: 'GET', url: '/me/sessions', headers: bearer(tokens.access_token) })).json<{ id: string; current: boolean }[]>();
    const other = sessions.find((s) => !s.current);
    assert.ok(other !== undefined);
    assert.equal((await t.inject({ method: 'DELETE', url: `/me/sessions/${other.id}`, headers: bearer(tokens.access_token) })).statusCode, 204);
    const unknown = randomUUID();
    assert.equal((await t.inject({ method: 'DELETE', url: `/me/sessions/${unknown}`, headers: bearer(tokens.access_token) })).statusCode, 404);

    const text = await exposition(server);
    assert.ok(!text.includes(other.id) && !text.includes(unknown));
    assert.equal(sampleValue(text, 'http_request_duration_seconds_count', { method: 'DELETE', route: '/me/sessions/:id', status_class: '2xx' }), 1);
    assert.equal(sampleValue(text, 'http_request_duration_seconds_count', { method: 'DELETE', route: '/me/sessions/:id', status_class: '4xx' }), 1);
  });

  test('a flood of random paths adds one series, route="unmatched", not one per path', async () => {
    const before = parseExposition(await exposition(server));
    const routesBefore = labelValues(before, 'http_request_duration_seconds_count', 'route');
    const seriesBefore = before.filter((s) => s.name.startsWith('http_request_duration_seconds')).length;
    const methods = ['GET', 'POST', 'PUT', 'DELETE', 'PATCH'] as const;
    for (let i = 0; i < 300; i++) {
      const res = await t.inject({ method: methods[i % methods.length] ?? 'GET', url: `/${randomBytes(6).toString('hex')}/${i}?q=${i}` });
      assert.equal(res.statusCode, 404);
    }
    const afterFlood = parseExposition(await exposition(server));
    const routesAfter = labelValues(afterFlood, 'http_request_duration_seconds_count', 'route');
    assert.deepEqual(routesAfter, new Set([...routesBefore, 'unmatched']));
    // At most one series per method for the flood: 5 methods × (buckets + sum + count).
    const seriesAfter = afterFlood.filter((s) => s.name.startsWith('http_request_duration_seconds')).length;
    assert.ok(seriesAfter - seriesBefore <= 5 * 14, `${seriesAfter - seriesBefore} new series`);
    const unmatched = afterFlood
      .filter((s) => s.name === 'http_request_duration_seconds_count' && s.labels.route === 'unmatched')
      .reduce((n, s) => n + s.value, 0);
    assert.ok(unmatched >= 300);
  });
});

describe('metrics: what is counted', () => {
  let t: TestApp;
  let server: MetricsServer;
  before(async () => {
    t = await startTestApp({ env: { GATEHOUSE_LOG_LEVEL: 'warn' } });
    server = await startMetricsServer(t.services.metrics, { host: '127.0.0.1', port: 0 });
  });
  after(async () => {
    await server.close();
    await t.close();
  });

  test('logins by outcome, at the token endpoint and /auth/login', async () => {
    await t.register('counted');
    assert.equal((await formLogin(t, 'counted')).status, 200);
    assert.equal((await formLogin(t, 'counted', 'not the password of counted')).status, 400);
    assert.equal((await formLogin(t, 'nobody-like-this')).status, 400);
    const json = await t.inject({
      method: 'POST',
      url: '/auth/login',
      headers: { 'content-type': 'application/json' },
      payload: { username: 'counted', password: TEST_PASSWORD },
    });
    assert.equal(json.statusCode, 200);
    const text = await exposition(server);
    assert.equal(sampleValue(text, 'gatehouse_logins_total', { outcome: 'success' }), 2);
    assert.equal(sampleValue(text, 'gatehouse_logins_total', { outcome: 'invalid_grant' }), 2);
    assert.equal(sampleValue(text, 'gatehouse_refreshes_total', { outcome: 'success' }), undefined, 'a login is not a refresh');
  });

  test('browser sign-ins count as logins; a sign-out does not', async () => {
    await t.register('browser-counted');
    const before = await exposition(server);
    const count = (text: string, outcome: string) => sampleValue(text, 'gatehouse_logins_total', { outcome }) ?? 0;
    const signIn = (password: string) =>
      t.inject({
        method: 'POST',
        url: '/auth/session',
        headers: { 'content-type': 'application/json', 'sec-fetch-site': 'same-origin' },
        payload: { username: 'browser-counted', password },
      });
    assert.equal((await signIn(TEST_PASSWORD)).statusCode, 200);
    assert.equal((await signIn('not the password of browser-counted')).statusCode, 401);
    assert.equal((await t.inject({ method: 'DELETE', url: '/auth/session', headers: { 'sec-fetch-site': 'same-origin' } })).statusCode, 204);
    const after = await exposition(server);
    assert.equal(count(after, 'success') - count(before, 'success'), 1);
    assert.equal(count(after, 'invalid_grant') - count(before, 'invalid_grant'), 1);
  });

  test('refreshes by outcome; a replayed token counts as reuse_detected', async () => {
    await t.register('rotator');
    const { tokens } = await formLogin(t, 'rotator');
    assert.equal(await formRefresh(t, tokens.refresh_token), 200);
    assert.equal(await formRefresh(t, tokens.refresh_token), 400);
    const text = await exposition(server);
    assert.equal(sampleValue(text, 'gatehouse_refreshes_total', { outcome: 'success' }), 1);
    assert.equal(sampleValue(text, 'gatehouse_refreshes_total', { outcome: 'reuse_detected' }), 1);
    assert.equal(sampleValue(text, 'gatehouse_refreshes_total', { outcome: 'invalid_grant' }), 1);
  });

  test('revocation counters move after /auth/logout and logout-all; the state gauge reads 1', async () => {
    const before = await exposition(server);
    const sessionsBefore = sampleValue(before, 'gatehouse_revocations_total', { kind: 'session' }) ?? 0;
    assert.equal(sampleValue(before, 'gatehouse_revocation_state_current'), 1);
    await t.register('leaver');
    const first = await formLogin(t, 'leaver');
    const second = await formLogin(t, 'leaver');
    await formLogin(t, 'leaver');
    assert.equal((await t.inject({ method: 'POST', url: '/auth/logout', headers: bearer(first.tokens.access_token) })).statusCode, 204);
    let text = await exposition(server);
    assert.equal(sampleValue(text, 'gatehouse_revocations_total', { kind: 'session' }), sessionsBefore + 1);
    assert.ok((sampleValue(text, 'gatehouse_revocation_entries') ?? 0) >= 1);
    assert.equal((await t.inject({ method: 'POST', url: '/auth/logout-all', headers: bearer(second.tokens.access_token) })).statusCode, 204);
    text = await exposition(server);
    assert.equal(sampleValue(text, 'gatehouse_revocations_total', { kind: 'user' }), 1);
    assert.equal(sampleValue(text, 'gatehouse_revocations_total', { kind: 'session' }), sessionsBefore + 3);
    assert.equal(sampleValue(text, 'gatehouse_revocation_state_current'), 1);
  });

  test('a throttled login counts as throttled, and the 429 by its route', async () => {
    const throttled = await startTestApp({ env: { GATEHOUSE_LIMIT_LOGIN_USER_IP: '2/15m' } });
    const scraper = await startMetricsServer(throttled.services.metrics, { host: '127.0.0.1', port: 0 });
    try {
      await throttled.register('guessed');
      let refused = 0;
      for (let i = 0; i < 5; i++) if ((await formLogin(throttled, 'guessed', `wrong guess number ${i} here`)).status === 429) refused++;
      assert.ok(refused > 0, 'the limit never answered 429');
      const text = await exposition(scraper);
      assert.equal(sampleValue(text, 'gatehouse_logins_total', { outcome: 'throttled' }), refused);
      assert.equal(sampleValue(text, 'gatehouse_logins_total', { outcome: 'invalid_grant' }), 5 - refused);
      assert.equal(sampleValue(text, 'gatehouse_throttled_requests_total', { route: '/auth/token' }), refused);
    } finally {
      await scraper.close();
      await throttled.close();
    }
  });

  test('store latency and event-loop delay are reported', async () => {
    const text = await exposition(server);
    assert.ok((sampleValue(text, 'gatehouse_store_query_duration_seconds_count', { store: 'database' }) ?? 0) > 0);
    if (t.services.ephemeral.kind === 'redis') assert.ok((sampleValue(text, 'gatehouse_store_query_duration_seconds_count', { store: 'ephemeral' }) ?? 0) > 0);
    assert.notEqual(sampleValue(text, 'nodejs_eventloop_lag_p99_seconds'), undefined);
  });

  test('signing keys without "iat" have no age sample (the test keys have none)', async () => {
    assert.equal(parseExposition(await exposition(server)).filter((s) => s.name === 'gatehouse_signing_key_age_seconds').length, 0);
  });
});

describe('metrics plugin: outcomes from route and status', () => {
  let app: FastifyInstance;
  let metrics: GatehouseMetrics;
  before(async () => {
    metrics = createGatehouseMetrics({ revocationState: () => ({ current: true, entries: 0 }), signingKeys: () => [], now: Date.now });
    app = Fastify();
    await app.register(metricsPlugin, { metrics });
    // Stand-ins answering whatever status the test asks for: 429 and 5xx without a throttle or an outage.
    for (const url of ['/auth/token', '/auth/login', '/auth/refresh', '/other']) {
      app.post(url, { config: { auth: PUBLIC } }, async (request, reply) => reply.code(Number((request.body as { status: string }).status)).send({}));
    }
    await app.ready();
  });
  after(() => app.close());

  const post = (url: string, body: Record<string, string>) => app.inject({ method: 'POST', url, payload: body });

  test('status → outcome: 2xx success, 400/401 invalid_grant, 429 throttled, 5xx error', async () => {
    for (const status of ['200', '400', '401', '429', '503', '500']) await post('/auth/token', { grant_type: 'password', status });
    for (const status of ['200', '400', '429', '503']) await post('/auth/refresh', { status });
    const text = await metrics.exposition();
    assert.equal(sampleValue(text, 'gatehouse_logins_total', { outcome: 'success' }), 1);
    assert.equal(sampleValue(text, 'gatehouse_logins_total', { outcome: 'invalid_grant' }), 2);
    assert.equal(sampleValue(text, 'gatehouse_logins_total', { outcome: 'throttled' }), 1);
    assert.equal(sampleValue(text, 'gatehouse_logins_total', { outcome: 'error' }), 2);
    assert.equal(sampleValue(text, 'gatehouse_refreshes_total', { outcome: 'success' }), 1);
    assert.equal(sampleValue(text, 'gatehouse_refreshes_total', { outcome: 'invalid_grant' }), 1);
    assert.equal(sampleValue(text, 'gatehouse_refreshes_total', { outcome: 'throttled' }), 1);
    assert.equal(sampleValue(text, 'gatehouse_refreshes_total', { outcome: 'error' }), 1);
    assert.equal(sampleValue(text, 'gatehouse_throttled_requests_total', { route: '/auth/token' }), 1);
    assert.equal(sampleValue(text, 'gatehouse_throttled_requests_total', { route: '/auth/refresh' }), 1);
  });

  test('the grant decides login or refresh at the token endpoint; other grants and routes are neither', async () => {
    const fresh = createGatehouseMetrics({ revocationState: () => ({ current: true, entries: 0 }), signingKeys: () => [], now: Date.now });
    const local = Fastify();
    await local.register(metricsPlugin, { metrics: fresh });
    local.post('/auth/token', async (request, reply) => reply.code(Number((request.body as { status: string }).status)).send({}));
    local.post('/other', async (request, reply) => reply.code(Number((request.body as { status: string }).status)).send({}));
    await local.ready();
    try {
      await local.inject({ method: 'POST', url: '/auth/token', payload: { grant_type: 'refresh_token', status: '200' } });
      await local.inject({ method: 'POST', url: '/auth/token', payload: { grant_type: 'client_credentials', status: '400' } });
      await local.inject({ method: 'POST', url: '/auth/token', payload: { grant_type: ['password'], status: '200' } });
      await local.inject({ method: 'POST', url: '/other', payload: { grant_type: 'password', status: '429' } });
      const text = await fresh.exposition();
      assert.equal(sampleValue(text, 'gatehouse_refreshes_total', { outcome: 'success' }), 1);
      assert.equal(parseExposition(text).filter((s) => s.name === 'gatehouse_logins_total').length, 0);
      assert.equal(sampleValue(text, 'gatehouse_throttled_requests_total', { route: '/other' }), 1);
    } finally {
      await local.close();
    }
  });

  test('isLoopbackHost: what the banner treats as private', () => {
    for (const host of ['127.0.0.1', '127.1.2.3', '::1', 'localhost']) assert.ok(isLoopbackHost(host), host);
    for (const host of ['0.0.0.0', '::', '10.0.0.5', 'metrics.internal', '128.0.0.1']) assert.ok(!isLoopbackHost(host), host);
  });
});
