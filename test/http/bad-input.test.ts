import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, test } from 'node:test';
import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import { usernameKey } from '../../src/users/username.js';
import { assertWellFormedProblem, STACK } from '../support/problem.js';
import { parseRawHttp, rawSocket, type RawResponse } from '../support/raw-http.js';
import { bearer, startTestApp, TEST_PASSWORD, type TestApp } from '../support/test-app.js';

const JSON_TYPE = { 'content-type': 'application/json' };
/** About 4 KiB: under the default 16 KiB limit, over a 2 KiB one. */
const FOUR_KIB_BODY = JSON.stringify({ username: 'fourkib', password: 'p'.repeat(4000) });
const FORM = { 'content-type': 'application/x-www-form-urlencoded' };
function assertProblem(res: LightMyRequestResponse, status: number, code: string): void {
  assertWellFormedProblem(res.statusCode, res.headers, res.body, status, code);
}

function rawRequest(port: number, options: http.RequestOptions): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, ...options }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('malformed and hostile input', () => {
  let t: TestApp;
  const post = (url: string, payload: string | Buffer, headers: Record<string, string> = JSON_TYPE) => t.inject({ method: 'POST', url, headers, payload });
  const userExists = async (name: string) => (await t.services.users.findByUsernameKey(usernameKey(name))) !== undefined;

  before(async () => {
    t = await startTestApp();
  });
  after(() => t.close());

  test('invalid UTF-8 in a JSON body: 400 ERR_MALFORMED_BODY and no user created', async () => {
    // The bad byte sits in the password, where lenient decoding (U+FFFD) would pass every other rule.
    const prefix = Buffer.from(`{"username":"utf8victim","password":"${TEST_PASSWORD} `);
    const payload = Buffer.concat([prefix, Buffer.from([0xff, 0xfe]), Buffer.from('"}')]);
    assertProblem(await post('/auth/register', payload), 400, 'ERR_MALFORMED_BODY');
    assert.equal(await userExists('utf8victim'), false);
    // And in a key, as the first bytes of the body.
    assertProblem(await post('/auth/register', Buffer.from([0x7b, 0x22, 0xff, 0x22, 0x3a, 0x31, 0x7d])), 400, 'ERR_MALFORMED_BODY');
  });

  test('an overlong UTF-8 encoding of "/" (0xC0 0xAF) is refused, not decoded', async () => {
    const payload = Buffer.concat([Buffer.from('{"username":"a'), Buffer.from([0xc0, 0xaf]), Buffer.from(`b","password":"${TEST_PASSWORD}"}`)]);
    assertProblem(await post('/auth/register', payload), 400, 'ERR_MALFORMED_BODY');
  });

  test('invalid percent-encoded UTF-8 in the form body: 400 invalid_request, not a login attempt', async () => {
    await t.register('formuser');
    for (const payload of [
      'grant_type=password&username=%FF&password=x',
      `grant_type=password&username=formuser&password=${encodeURIComponent(TEST_PASSWORD)}%FF`,
    ]) {
      const res = await post('/auth/token', payload, FORM);
      assert.equal(res.statusCode, 400);
      assert.match(String(res.headers['content-type']), /^application\/json\b/);
      assert.equal(res.headers['cache-control'], 'no-store');
      assert.equal(res.json().error, 'invalid_request');
    }
  });

  test('__proto__ and constructor.prototype in the register body: refused or ignored, never polluting', async () => {
    const payload = JSON.stringify({ username: 'protouser', password: TEST_PASSWORD }).replace(
      /}$/,
      ',"__proto__":{"polluted":"yes","roles":["admin"]},"constructor":{"prototype":{"polluted":"yes"}}}',
    );
    const res = await post('/auth/register', payload);
    assert.ok(res.statusCode === 201 || res.statusCode === 400, res.body);
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
    assert.equal(({} as Record<string, unknown>).roles, undefined);
    if (res.statusCode === 201) {
      const { access_token } = await t.login('protouser');
      const me = await t.inject({ method: 'GET', url: '/me', headers: bearer(access_token) });
      assert.deepEqual(me.json().roles, []);
    } else {
      assertProblem(res, 400, 'ERR_VALIDATION');
    }
  });

  test('__proto__ in the token form body does not pollute', async () => {
    const res = await post(
      '/auth/token',
      `grant_type=password&username=formuser&password=x&__proto__[polluted]=yes&constructor[prototype][polluted]=yes`,
      FORM,
    );
    assert.equal(res.statusCode, 400);
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
  });

  describe('each refusal is problem+json with a stable code, a request id and no stack', () => {
    const cases: [string, InjectOptions, number, string][] = [
      ['malformed JSON', { method: 'POST', url: '/auth/register', headers: JSON_TYPE, payload: '{"username": "x",' }, 400, 'ERR_MALFORMED_BODY'],
      ['JSON with a trailing comma', { method: 'POST', url: '/auth/register', headers: JSON_TYPE, payload: '{"username":"x",}' }, 400, 'ERR_MALFORMED_BODY'],
      ['an empty JSON body', { method: 'POST', url: '/auth/register', headers: JSON_TYPE, payload: '' }, 400, 'ERR_MALFORMED_BODY'],
      ['a whitespace-only JSON body', { method: 'POST', url: '/auth/register', headers: JSON_TYPE, payload: '  \n ' }, 400, 'ERR_MALFORMED_BODY'],
      ['no body at all', { method: 'POST', url: '/auth/register' }, 400, 'ERR_VALIDATION'],
      ['JSON null', { method: 'POST', url: '/auth/register', headers: JSON_TYPE, payload: 'null' }, 400, 'ERR_VALIDATION'],
      ['a JSON array', { method: 'POST', url: '/auth/register', headers: JSON_TYPE, payload: '[{"username":"arr","password":"x"}]' }, 400, 'ERR_VALIDATION'],
      ['a JSON number', { method: 'POST', url: '/auth/register', headers: JSON_TYPE, payload: '42' }, 400, 'ERR_VALIDATION'],
      ['a JSON string', { method: 'POST', url: '/auth/register', headers: JSON_TYPE, payload: '"hello"' }, 400, 'ERR_VALIDATION'],
      [
        'a number where a string belongs',
        { method: 'POST', url: '/auth/register', headers: JSON_TYPE, payload: '{"username":123,"password":"x"}' },
        400,
        'ERR_VALIDATION',
      ],
      [
        'text/plain to /auth/register',
        { method: 'POST', url: '/auth/register', headers: { 'content-type': 'text/plain' }, payload: 'username=x' },
        415,
        'ERR_UNSUPPORTED_MEDIA_TYPE',
      ],
      // A cross-site HTML form is a "simple" request (no CORS preflight): JSON endpoints must refuse it.
      [
        'a form body to /auth/register',
        { method: 'POST', url: '/auth/register', headers: FORM, payload: `username=formreg&password=${encodeURIComponent(TEST_PASSWORD)}` },
        415,
        'ERR_UNSUPPORTED_MEDIA_TYPE',
      ],
      [
        'a form body to /auth/login',
        { method: 'POST', url: '/auth/login', headers: FORM, payload: `username=formuser&password=${encodeURIComponent(TEST_PASSWORD)}` },
        415,
        'ERR_UNSUPPORTED_MEDIA_TYPE',
      ],
      [
        'XML to /auth/login',
        { method: 'POST', url: '/auth/login', headers: { 'content-type': 'application/xml' }, payload: '<x/>' },
        415,
        'ERR_UNSUPPORTED_MEDIA_TYPE',
      ],
      [
        'a body over 16 KiB',
        { method: 'POST', url: '/auth/register', headers: JSON_TYPE, payload: JSON.stringify({ username: 'x'.repeat(16 * 1024) }) },
        413,
        'ERR_PAYLOAD_TOO_LARGE',
      ],
      ['an unknown route', { method: 'GET', url: '/no-such-route/users' }, 404, 'ERR_NOT_FOUND'],
      ['a path traversal', { method: 'GET', url: '/docs/static/../../../../etc/passwd' }, 404, 'ERR_NOT_FOUND'],
      ['an unknown method on a known path', { method: 'DELETE', url: '/me' }, 404, 'ERR_NOT_FOUND'],
      ['/me without a token', { method: 'GET', url: '/me' }, 401, 'ERR_NO_CREDENTIAL'],
      ['/me with a garbage token', { method: 'GET', url: '/me', headers: { authorization: 'Bearer not.a.jwt' } }, 401, 'ERR_INVALID_TOKEN'],
      ['/me with a token in the query', { method: 'GET', url: '/me?access_token=abc' }, 400, 'ERR_MALFORMED_CREDENTIAL'],
    ];
    for (const [name, options, status, code] of cases) {
      test(`${name}: ${status} ${code}`, async () => {
        assertProblem(await t.inject(options), status, code);
      });
    }
  });

  test('a body of exactly 16 KiB is read (not 413); one byte more is 413', async () => {
    const atLimit = JSON.stringify({ username: 'limit', password: 'x' }).replace('"x"', `"${'x'.repeat(16 * 1024 - 34)}"`);
    assert.equal(Buffer.byteLength(atLimit), 16 * 1024);
    // Read and validated: the schema's 4 KiB password bound refuses it, not the body limit.
    assertProblem(await post('/auth/register', atLimit), 400, 'ERR_VALIDATION');
    assertProblem(await post('/auth/register', `${atLimit} `), 413, 'ERR_PAYLOAD_TOO_LARGE');
  });

  test('a 4 KiB body is read under the default limit (the password policy refuses it, not the limit)', async () => {
    assertProblem(await post('/auth/register', FOUR_KIB_BODY), 400, 'ERR_PASSWORD_POLICY');
  });

  test('the token endpoint answers oversized bodies in RFC 6749 form, still no-store', async () => {
    const res = await post('/auth/token', `grant_type=password&x=${'a'.repeat(17 * 1024)}`, FORM);
    assert.equal(res.statusCode, 413);
    assert.equal(res.headers['cache-control'], 'no-store');
    assert.deepEqual(Object.keys(res.json()).sort(), ['error', 'error_description']);
    assert.equal(res.json().error, 'invalid_request');
    assert.doesNotMatch(res.body, STACK);
  });

  describe('on a real socket', () => {
    let port: number;
    before(async () => {
      await t.app.listen({ port: 0, host: '127.0.0.1' });
      const address = t.app.server.address();
      assert.ok(address !== null && typeof address === 'object');
      port = address.port;
    });

    test('a 100 KB header: 431 ERR_HEADERS_TOO_LARGE problem+json with a request id', async () => {
      const res = await rawRequest(port, { method: 'GET', path: '/healthz', headers: { 'x-padding': 'a'.repeat(100_000) } });
      assertWellFormedProblem(res.status, res.headers, res.body, 431, 'ERR_HEADERS_TOO_LARGE');
    });

    test('a malformed header line: 400 problem+json, not Node’s bare response', async () => {
      const res = parseRawHttp(await rawSocket(port, 'GET /healthz HTTP/1.1\r\nHost: x\r\nBad Header Line\r\n\r\n'));
      assertWellFormedProblem(res.status, res.headers, res.body, 400, 'ERR_MALFORMED_REQUEST');
    });

    test('the server still answers after those', async () => {
      const res = await rawRequest(port, { method: 'GET', path: '/healthz' });
      assert.equal(res.status, 200);
    });
  });
});

describe('GATEHOUSE_BODY_LIMIT', () => {
  let t: TestApp;
  before(async () => {
    t = await startTestApp({ env: { GATEHOUSE_BODY_LIMIT: '2048' } });
  });
  after(() => t.close());

  test('a 4 KiB body, fine under the default, is 413 with a 2 KiB limit', async () => {
    const res = await t.inject({ method: 'POST', url: '/auth/register', headers: JSON_TYPE, payload: FOUR_KIB_BODY });
    assertProblem(res, 413, 'ERR_PAYLOAD_TOO_LARGE');
    const small = await t.inject({
      method: 'POST',
      url: '/auth/register',
      headers: JSON_TYPE,
      payload: JSON.stringify({ username: 'smalllimit', password: TEST_PASSWORD }),
    });
    assert.equal(small.statusCode, 201);
  });
});
