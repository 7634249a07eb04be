import assert from 'node:assert/strict';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { once } from 'node:events';
import { after, before, describe, test } from 'node:test';
import Fastify, { type FastifyInstance } from 'fastify';
import { gatehouse, gatehouseServerOptions, PUBLIC } from '../../src/index.js';
import { assertSecurityHeaders, assertWellFormedProblem } from '../support/problem.js';
import { parseRawHttp, rawSocket, type RawResponse } from '../support/raw-http.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

/**
 * Answers made before routing (the router's, Node's, the HTTP parser's) go through the error
 * layer: problem shape, request id, security headers, the per-address limit, and no echo of what
 * the client sent. Over raw sockets: an HTTP client will not send these requests.
 */

const SECRET = 'SECRET-3f9a7c';

async function listen(app: FastifyInstance): Promise<number> {
  await app.listen({ port: 0, host: '127.0.0.1' });
  return (app.server.address() as AddressInfo).port;
}

const request = (lines: string[]) => `${lines.join('\r\n')}\r\n\r\n`;
const get = (path: string, ...headers: string[]) => request([`GET ${path} HTTP/1.1`, 'Host: gatehouse.test', ...headers, 'Connection: close']);

/** What every refusal must be: the problem of `code`, the security headers, nothing echoed. */
function assertRefusal(text: string, status: number, code: string): RawResponse {
  assert.ok(!text.includes(SECRET), `the secret came back:\n${text}`);
  const res = parseRawHttp(text);
  assertWellFormedProblem(res.status, res.headers, res.body, status, code);
  assertSecurityHeaders(res.headers);
  return res;
}

describe('answers made before routing', () => {
  let t: TestApp;
  let port: number;
  before(async () => {
    t = await startTestApp();
    port = await listen(t.app);
  });
  after(() => t.close());

  test('malicious: GET /me%ff?access_token=… does not echo the token; 400 problem with request id and security headers', async () => {
    const text = await rawSocket(port, get(`/me%ff?access_token=${SECRET}`));
    assertRefusal(text, 400, 'ERR_MALFORMED_REQUEST');
    assert.ok(!t.logs.lines.some((line) => line.includes(SECRET)), 'the secret reached the log');
  });

  test('malicious: undecodable percent-encoding in a path parameter (a CESU surrogate) is the same refusal', async () => {
    assertRefusal(await rawSocket(port, get(`/admin/users/%ed%a0%80?access_token=${SECRET}`)), 400, 'ERR_MALFORMED_REQUEST');
    assertRefusal(await rawSocket(port, get(`/auth/token%ff?client_secret=${SECRET}`)), 400, 'ERR_MALFORMED_REQUEST');
  });

  test('a path parameter over the router limit: 414 problem, not Fastify’s default body with the path', async () => {
    assertRefusal(await rawSocket(port, get(`/admin/users/${'a'.repeat(150)}?access_token=${SECRET}`)), 414, 'ERR_URI_TOO_LONG');
  });

  test('an HTTP/1.1 request without Host: 400 problem, not Node’s empty answer; HTTP/1.0 without Host is still served', async () => {
    assertRefusal(await rawSocket(port, request(['GET /healthz HTTP/1.1', 'Connection: close'])), 400, 'ERR_MALFORMED_REQUEST');
    const old = parseRawHttp(await rawSocket(port, request(['GET /healthz HTTP/1.0'])));
    assert.equal(old.status, 200, old.body);
  });

  test('malicious: two Host headers are refused (RFC 9112 §3.2), whatever their case', async () => {
    assertRefusal(await rawSocket(port, get('/healthz', 'Host: other.example')), 400, 'ERR_MALFORMED_REQUEST');
    assertRefusal(await rawSocket(port, get('/healthz', 'HOST: gatehouse.test')), 400, 'ERR_MALFORMED_REQUEST');
    assert.equal(parseRawHttp(await rawSocket(port, get('/healthz'))).status, 200);
  });

  test('malicious: undecodable percent-encoding in the query is refused like in the path, not taken as raw text', async () => {
    for (const query of ['after=a%C0%AF', 'search=%ff', 'x=%', 'x=%zz', '%ff=1', 'x=%ed%a0%80']) {
      assertRefusal(await rawSocket(port, get(`/healthz?${query}&access_token=${SECRET}`)), 400, 'ERR_MALFORMED_REQUEST');
    }
    assert.equal(parseRawHttp(await rawSocket(port, get('/healthz?a=b%20c+d&a=%C3%A9'))).status, 200);
  });

  test('an Expect other than 100-continue: 417 problem, not Node’s bare 417; 100-continue still works', async () => {
    assertRefusal(await rawSocket(port, get('/healthz', 'Expect: 200-ok')), 417, 'ERR_EXPECTATION_FAILED');
    const text = await rawSocket(port, get('/healthz', 'Expect: 100-continue'));
    assert.match(text, /^HTTP\/1\.1 100 Continue\r\n/);
    assert.equal(parseRawHttp(text.slice(text.indexOf('\r\n\r\n') + 4)).status, 200);
  });

  test('bytes that are not HTTP (a bad method, a token in the target): 400 problem with the security headers, connection closed', async () => {
    const text = await rawSocket(port, request([`BREW /healthz?access_token=${SECRET} HTTP/1.1`, 'Host: gatehouse.test']));
    const res = assertRefusal(text, 400, 'ERR_MALFORMED_REQUEST');
    assert.equal(res.headers.connection, 'close');
  });

  test('an unknown route and an unknown method on a known path: the same problem shape on the wire', async () => {
    assertRefusal(await rawSocket(port, get(`/no-such-route?access_token=${SECRET}`)), 404, 'ERR_NOT_FOUND');
    assertRefusal(await rawSocket(port, request(['DELETE /me HTTP/1.1', 'Host: gatehouse.test', 'Connection: close'])), 404, 'ERR_NOT_FOUND');
  });

  test('headers that come too slowly: 408 problem from the same table, with the security headers', async () => {
    // Node's default timeouts are minutes long; the same handler on a server with short ones.
    const server = http.createServer({ headersTimeout: 100, requestTimeout: 200, connectionsCheckingInterval: 20 }, () =>
      assert.fail('no request is complete'),
    );
    server.on('clientError', gatehouseServerOptions.clientErrorHandler);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const slowPort = (server.address() as AddressInfo).port;
      const res = assertRefusal(
        await rawSocket(slowPort, `GET /healthz?access_token=${SECRET} HTTP/1.1\r\nHost: gatehouse.test\r\n`),
        408,
        'ERR_REQUEST_TIMEOUT',
      );
      assert.equal(res.headers.connection, 'close');
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });

  test('the server still answers normally after all of these', async () => {
    assert.equal(parseRawHttp(await rawSocket(port, get('/healthz'))).status, 200);
  });
});

describe('answers made before routing count against the per-address limit', () => {
  let t: TestApp;
  let port: number;
  before(async () => {
    t = await startTestApp({ env: { GATEHOUSE_LIMIT_GLOBAL_IP: '2/1m' } });
    port = await listen(t.app);
  });
  after(() => t.close());

  test('malicious: a flood of undecodable URLs, Host-less requests and bad expectations is throttled: 429 problem', async () => {
    for (const bytes of [get('/me%ff'), get('/me%ff')]) assertRefusal(await rawSocket(port, bytes), 400, 'ERR_MALFORMED_REQUEST');
    for (const bytes of [
      get('/me%ff'),
      request(['GET /healthz HTTP/1.1', 'Connection: close']),
      get('/healthz', 'Expect: 200-ok'),
      get(`/me/sessions/${'a'.repeat(150)}`),
    ]) {
      const res = assertRefusal(await rawSocket(port, bytes), 429, 'ERR_THROTTLED');
      assert.match(String(res.headers['retry-after']), /^\d+$/);
    }
  });
});

describe('library mode: a host that spreads gatehouseServerOptions', () => {
  let t: TestApp;
  let host: FastifyInstance;
  let port: number;
  before(async () => {
    t = await startTestApp();
    host = Fastify({ logger: false, ...gatehouseServerOptions });
    await host.register(gatehouse, { services: t.services });
    host.get('/orders/:id', { config: { auth: PUBLIC } }, async () => ({ ok: true }));
    port = await listen(host);
  });
  after(async () => {
    await host.close();
    await t.close();
  });

  const assertHostRefusal = (text: string, status: number, code: string) => {
    assert.ok(!text.includes(SECRET), `the secret came back:\n${text}`);
    const res = parseRawHttp(text);
    assert.equal(res.status, status, text);
    assert.match(String(res.headers['content-type']), /^application\/problem\+json\b/);
    assert.equal((JSON.parse(res.body) as { code: string }).code, code);
  };

  test('malicious: the host’s own routes do not echo an undecodable URL either', async () => {
    assertHostRefusal(await rawSocket(port, get(`/orders/%ff?access_token=${SECRET}`)), 400, 'ERR_MALFORMED_REQUEST');
    assertHostRefusal(await rawSocket(port, get(`/orders/${'a'.repeat(150)}?access_token=${SECRET}`)), 414, 'ERR_URI_TOO_LONG');
  });

  test('bytes that are not HTTP get the problem from the same table, with the security headers', async () => {
    const text = await rawSocket(port, request([`BREW /orders/1?access_token=${SECRET} HTTP/1.1`, 'Host: host.test']));
    assertHostRefusal(text, 400, 'ERR_MALFORMED_REQUEST');
    assertSecurityHeaders(parseRawHttp(text).headers);
  });
});

describe('a request that arrives while the server closes', () => {
  test('gets 503 ERR_SHUTTING_DOWN through the error layer (request id, security headers, connection: close), not Fastify’s bare 503', async () => {
    // The test's own preClose hook holds the close open, as in-flight requests would.
    let release = () => {};
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    const t = await startTestApp({
      extraRoutes: async (app) => {
        app.addHook('preClose', async () => held);
      },
    });
    const port = await listen(t.app);
    // A request whose headers are still arriving when the close begins (its connection is not idle).
    const socket = net.connect(port, '127.0.0.1');
    await once(socket, 'connect');
    socket.write('GET /healthz?secret=' + SECRET + ' HTTP/1.1\r\nHost: gatehouse.test\r\n');
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    const ended = once(socket, 'close');
    await new Promise((resolve) => setTimeout(resolve, 50));
    const closed = t.app.close();
    try {
      await new Promise((resolve) => setTimeout(resolve, 50));
      socket.write('\r\n');
      await ended;
      const res = assertRefusal(Buffer.concat(chunks).toString('utf8'), 503, 'ERR_SHUTTING_DOWN');
      assert.equal(res.headers.connection, 'close');
      // Retried at once on another instance: no Retry-After (an unavailable store's 503 has one).
      assert.equal(res.headers['retry-after'], undefined);
    } finally {
      socket.destroy();
      release();
      await closed;
      await t.close();
    }
  });
});
