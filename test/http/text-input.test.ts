import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { LightMyRequestResponse } from 'fastify';
import { usernameKey } from '../../src/users/username.js';
import { assertWellFormedProblem } from '../support/problem.js';
import { bearer, startTestApp, TEST_PASSWORD, type TestApp } from '../support/test-app.js';

const FORM = { 'content-type': 'application/x-www-form-urlencoded' };
const JSON_TYPE = { 'content-type': 'application/json' };

/** Log records of one request, by its id. */
function recordsOf(t: TestApp, res: LightMyRequestResponse): Record<string, unknown>[] {
  return t.logs.records().filter((r) => r.request_id === res.headers['x-request-id']);
}

/** A refusal is a 4xx logged at info: never an error line (with a stack), never a 503. */
function assertRefusedAtInfo(t: TestApp, res: LightMyRequestResponse): void {
  assert.ok(res.statusCode >= 400 && res.statusCode < 500, `${res.statusCode} ${res.body}`);
  const records = recordsOf(t, res);
  assert.ok(
    records.some((r) => r.msg === 'request refused' && r.level === 30),
    JSON.stringify(records),
  );
  assert.ok(!records.some((r) => Number(r.level) >= 50), JSON.stringify(records));
}

describe('a NUL byte, or other input PostgreSQL refuses, never reaches a query (it would be a database error, answered 503)', () => {
  let t: TestApp;
  let adminToken: string;
  let adminId: string;
  before(async () => {
    t = await startTestApp();
    adminId = (await t.register('nul-admin')).id;
    await t.services.userDirectory.changeRole(adminId, { grant: 'admin' });
    adminToken = (await t.login('nul-admin')).access_token;
    await t.register('nul-victim');
  });
  after(() => t.close());

  test('malicious: username=a%00b at /auth/token is the invalid_grant of a wrong password, the unknown-user path, logged at info', async () => {
    const wrong = await t.inject({ method: 'POST', url: '/auth/token', headers: FORM, payload: 'grant_type=password&username=nul-victim&password=wrong' });
    for (const username of ['a%00b', 'nul-victim%00']) {
      const res = await t.inject({ method: 'POST', url: '/auth/token', headers: FORM, payload: `grant_type=password&username=${username}&password=wrong` });
      assert.equal(res.statusCode, wrong.statusCode, res.body);
      assert.deepEqual(res.json(), wrong.json());
      assertRefusedAtInfo(t, res);
      // The unknown-user path: one dummy argon2 verification, like any name with no account.
      assert.ok(recordsOf(t, res).some((r) => r.reason === 'unknown user'));
    }
  });

  test('malicious: "a\\u0000b" at the JSON /auth/login is the 401 of a wrong password', async () => {
    const wrong = await t.inject({ method: 'POST', url: '/auth/login', payload: { username: 'nul-victim', password: 'wrong' } });
    const res = await t.inject({ method: 'POST', url: '/auth/login', payload: { username: 'a\u0000b', password: 'wrong' } });
    assert.equal(res.statusCode, 401, res.body);
    assert.equal(res.json().code, wrong.json().code);
    assert.equal(res.json().detail, wrong.json().detail);
    assertRefusedAtInfo(t, res);
  });

  test('every query-string and path input that reaches a query refuses a NUL with a 400 problem', async () => {
    const { id: tenantId } = (await t.inject({ method: 'POST', url: '/admin/tenants', headers: bearer(adminToken), payload: { slug: 'nul-tenant' } })).json<{
      id: string;
    }>();
    assert.ok(tenantId);
    const urls = [
      '/admin/users?search=a%00b',
      '/admin/users?after=a%00b',
      '/admin/users/a%00b',
      `/admin/users/${adminId}%00`,
      '/admin/audit?event=a%00b',
      '/admin/tenants?after=a%00b',
      '/admin/tenants/nul%00tenant/members',
      '/admin/tenants/nul-tenant/members?after=a%00b',
    ];
    for (const url of urls) {
      const res = await t.inject({ method: 'GET', url, headers: bearer(adminToken) });
      assertWellFormedProblem(res.statusCode, res.headers, res.body, 400, 'ERR_VALIDATION');
      assertRefusedAtInfo(t, res);
    }
    const put = await t.inject({ method: 'PUT', url: `/admin/tenants/nul-tenant/members/a%00b`, headers: bearer(adminToken) });
    assertWellFormedProblem(put.statusCode, put.headers, put.body, 400, 'ERR_VALIDATION');
    const session = await t.inject({ method: 'DELETE', url: '/me/sessions/a%00b', headers: bearer(adminToken) });
    assertWellFormedProblem(session.statusCode, session.headers, session.body, 400, 'ERR_VALIDATION');
  });

  test('an audit time filter PostgreSQL cannot read (year 0, or past 9999 once in UTC) is a 400 problem, not a 503', async () => {
    for (const instant of ['0000-01-01T00:00:00Z', '0001-01-01T00:30:00%2B01:00', '9999-12-31T23:59:59-01:00']) {
      for (const filter of ['since', 'until']) {
        const res = await t.inject({ method: 'GET', url: `/admin/audit?${filter}=${instant}`, headers: bearer(adminToken) });
        assertWellFormedProblem(res.statusCode, res.headers, res.body, 400, 'ERR_VALIDATION');
        assertRefusedAtInfo(t, res);
      }
    }
    const edges = await t.inject({ method: 'GET', url: '/admin/audit?since=0001-01-01T00:00:00Z&until=9999-12-31T23:59:59Z', headers: bearer(adminToken) });
    assert.equal(edges.statusCode, 200, edges.body);
  });

  test('a NUL in the User-Agent (stored by the audit trail) is refused, not a failed audit write', async () => {
    const res = await t.inject({
      method: 'POST',
      url: '/auth/token',
      headers: { ...FORM, 'user-agent': 'a\u0000b' },
      payload: 'grant_type=password&username=nul-victim&password=wrong',
    });
    assert.equal(res.statusCode, 400, res.body);
    assert.equal(res.json().error, 'invalid_request');
    assertRefusedAtInfo(t, res);
  });

  test('body inputs that reach a query refuse a NUL as invalid, never 503', async () => {
    const h = bearer(adminToken);
    const cases = [
      { method: 'POST', url: '/auth/register', payload: { username: 'a\u0000bcd', password: TEST_PASSWORD } },
      { method: 'POST', url: '/auth/register', payload: { username: 'nulmail', email: 'a\u0000b@example.com', password: TEST_PASSWORD } },
      { method: 'POST', url: '/auth/refresh', payload: { refresh_token: 'a\u0000b' } },
      { method: 'POST', url: '/auth/token', headers: FORM, payload: 'grant_type=refresh_token&refresh_token=a%00b' },
      { method: 'POST', url: '/auth/token', headers: FORM, payload: 'grant_type=password&username=nul-victim&password=wrong&tenant=a%00b' },
      { method: 'POST', url: `/admin/users/${adminId}/roles`, headers: h, payload: { role: 'a\u0000b' } },
      { method: 'POST', url: '/admin/tenants', headers: h, payload: { slug: 'a\u0000b' } },
      { method: 'POST', url: '/admin/tenants', headers: h, payload: { slug: 'nul-name', name: 'a\u0000b' } },
    ] as const;
    for (const options of cases) {
      const res = await t.inject(options);
      assertRefusedAtInfo(t, res);
    }
  });
});

describe('ill-formed text (lone surrogates) is refused at every text input', () => {
  let t: TestApp;
  before(async () => {
    t = await startTestApp();
  });
  after(() => t.close());

  const userExists = async (name: string) => (await t.services.users.findByUsernameKey(usernameKey(name))) !== undefined;
  const registerRaw = (username: string, password: string) =>
    // JSON.stringify writes a lone surrogate as its \ud800 escape, which JSON.parse turns back into one.
    t.inject({ method: 'POST', url: '/auth/register', headers: JSON_TYPE, payload: JSON.stringify({ username, password }) });

  test('malicious: a password with a lone surrogate cannot register (it would hash as U+FFFD)', async () => {
    for (const password of [`${TEST_PASSWORD}\ud800`, `${TEST_PASSWORD}\udfff`, `\udbff${TEST_PASSWORD}`]) {
      const res = await registerRaw('surrogate-victim', password);
      assertWellFormedProblem(res.statusCode, res.headers, res.body, 400, 'ERR_VALIDATION');
      assert.deepEqual(res.json().errors, [{ field: 'password', message: 'must be well-formed text' }]);
      assert.ok(!res.body.includes('\\ud'), 'the value is not echoed');
    }
    assert.equal(await userExists('surrogate-victim'), false);
  });

  test('malicious: login with a lone surrogate does not open the account whose password has U+FFFD there', async () => {
    await t.register('fffd-owner', `${TEST_PASSWORD}\ufffd`);
    const res = await t.inject({
      method: 'POST',
      url: '/auth/login',
      headers: JSON_TYPE,
      payload: JSON.stringify({ username: 'fffd-owner', password: `${TEST_PASSWORD}\ud800` }),
    });
    assertWellFormedProblem(res.statusCode, res.headers, res.body, 400, 'ERR_VALIDATION');
    assert.equal(res.json().access_token, undefined);
    const right = await t.inject({ method: 'POST', url: '/auth/login', payload: { username: 'fffd-owner', password: `${TEST_PASSWORD}\ufffd` } });
    assert.equal(right.statusCode, 200, right.body);
  });

  test('a lone surrogate in a username, a key, or deep in an array is refused the same way', async () => {
    const res = await registerRaw('name\ud800x', TEST_PASSWORD);
    assertWellFormedProblem(res.statusCode, res.headers, res.body, 400, 'ERR_VALIDATION');
    const key = await t.inject({ method: 'POST', url: '/auth/register', headers: JSON_TYPE, payload: '{"username":"keyuser","password":"x","\\ud800":1}' });
    assertWellFormedProblem(key.statusCode, key.headers, key.body, 400, 'ERR_VALIDATION');
    assert.deepEqual(key.json().errors, [{ field: 'body', message: 'must be well-formed text' }]);
    const deep = await t.inject({
      method: 'POST',
      url: '/auth/register',
      headers: JSON_TYPE,
      payload: '{"username":"deepuser","password":"x","extra":[["ok","\\udc00"]]}',
    });
    assertWellFormedProblem(deep.statusCode, deep.headers, deep.body, 400, 'ERR_VALIDATION');
  });

  test('the token endpoint: a surrogate spelled in a form body is invalid_request, never a login attempt', async () => {
    await t.register('form-owner', `${TEST_PASSWORD}\ufffd`);
    // %ED%A0%80 is U+D800 in CESU-8: not UTF-8, so it cannot stand for the lone surrogate.
    const res = await t.inject({
      method: 'POST',
      url: '/auth/token',
      headers: FORM,
      payload: `grant_type=password&username=form-owner&password=${encodeURIComponent(TEST_PASSWORD)}%ED%A0%80`,
    });
    assert.equal(res.statusCode, 400, res.body);
    assert.equal(res.json().error, 'invalid_request');
  });
});
