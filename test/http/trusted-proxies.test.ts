import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { startTestApp, type TestApp } from '../support/test-app.js';

/** A test-only public route that answers with what Fastify believes the client address is. */
function ipRoute(app: FastifyInstance): void {
  app.get('/test/ip', { config: { auth: { public: true } } }, async (request) => ({ ip: request.ip }));
}

async function clientIp(t: TestApp, remoteAddress: string, forwardedFor?: string): Promise<string> {
  const res = await t.inject({
    method: 'GET',
    url: '/test/ip',
    remoteAddress,
    headers: forwardedFor === undefined ? {} : { 'x-forwarded-for': forwardedFor },
  });
  assert.equal(res.statusCode, 200, res.body);
  return res.json().ip;
}

describe('X-Forwarded-For without GATEHOUSE_TRUSTED_PROXIES', () => {
  let t: TestApp;
  before(async () => {
    t = await startTestApp({ extraRoutes: ipRoute });
  });
  after(() => t.close());

  test('is ignored: the client address is the socket address', async () => {
    assert.equal(await clientIp(t, '127.0.0.1', '203.0.113.9'), '127.0.0.1');
    assert.equal(await clientIp(t, '198.51.100.7', '203.0.113.9, 10.0.0.1'), '198.51.100.7');
  });

  test('the access log records the socket address, not the forged one', async () => {
    await clientIp(t, '198.51.100.8', '203.0.113.66');
    const line = t.logs.records().find((r) => r.msg === 'request completed' && (r.req as { ip?: string }).ip === '198.51.100.8');
    assert.ok(line !== undefined);
    assert.equal(
      t.logs.lines.find((l) => l.includes('203.0.113.66')),
      undefined,
    );
  });
});

describe('X-Forwarded-For with GATEHOUSE_TRUSTED_PROXIES=127.0.0.1,10.1.0.0/16', () => {
  let t: TestApp;
  before(async () => {
    t = await startTestApp({ env: { GATEHOUSE_TRUSTED_PROXIES: '127.0.0.1,10.1.0.0/16' }, extraRoutes: ipRoute });
  });
  after(() => t.close());

  test('is believed from a listed proxy', async () => {
    assert.equal(await clientIp(t, '127.0.0.1', '203.0.113.9'), '203.0.113.9');
    assert.equal(await clientIp(t, '10.1.2.3', '203.0.113.10'), '203.0.113.10');
  });

  test('is ignored from an address that is not listed', async () => {
    assert.equal(await clientIp(t, '198.51.100.7', '203.0.113.9'), '198.51.100.7');
    assert.equal(await clientIp(t, '10.2.0.1', '203.0.113.9'), '10.2.0.1');
  });

  test('a client cannot prepend a forged hop: only trusted hops are skipped, from the right', async () => {
    // The client sent "X-Forwarded-For: 1.1.1.1"; the proxy appended the real client address.
    assert.equal(await clientIp(t, '127.0.0.1', '1.1.1.1, 203.0.113.9'), '203.0.113.9');
    // A chain of two trusted proxies is walked through.
    assert.equal(await clientIp(t, '127.0.0.1', '1.1.1.1, 203.0.113.9, 10.1.0.5'), '203.0.113.9');
  });

  test('without the header the socket address stands', async () => {
    assert.equal(await clientIp(t, '127.0.0.1'), '127.0.0.1');
  });
});
