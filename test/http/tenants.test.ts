import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { decodeJwt } from 'jose';
import { bearer, startTestApp, TEST_PASSWORD, type TestApp } from '../support/test-app.js';

interface Tokens {
  access_token: string;
  refresh_token: string;
  scope: string;
}

describe('tenants over HTTP: admin API, login, refresh, revocation', () => {
  let t: TestApp;
  let adminToken: string;
  let userToken: string;
  const ids: Record<string, string> = {};

  const admin = (method: 'GET' | 'POST' | 'PUT' | 'DELETE', url: string, payload?: object) =>
    t.inject({ method, url, headers: bearer(adminToken), ...(payload === undefined ? {} : { payload }) });
  const jsonLogin = (username: string, tenant?: string) =>
    t.inject({ method: 'POST', url: '/auth/login', payload: { username, password: TEST_PASSWORD, ...(tenant === undefined ? {} : { tenant }) } });

  before(async () => {
    t = await startTestApp();
    for (const name of ['root', 'dana', 'erin']) ids[name] = (await t.register(name)).id;
    await t.services.userDirectory.changeRole(ids.root!, { grant: 'admin' });
    adminToken = (await t.login('root')).access_token;
    userToken = (await t.login('dana')).access_token;
  });
  after(() => t.close());

  test('malicious: a normal user gets 403 insufficient_scope on every tenant admin route; no token 401', async () => {
    const routes: [string, string][] = [
      ['POST', '/admin/tenants'],
      ['GET', '/admin/tenants'],
      ['GET', '/admin/tenants/acme/members'],
      ['PUT', `/admin/tenants/acme/members/${ids.dana}`],
      ['DELETE', `/admin/tenants/acme/members/${ids.dana}`],
      ['POST', `/admin/tenants/acme/members/${ids.dana}/roles`],
      ['DELETE', `/admin/tenants/acme/members/${ids.dana}/roles/clerk`],
    ];
    for (const [method, url] of routes) {
      const res = await t.inject({ method: method as 'GET', url, headers: bearer(userToken), ...(method === 'POST' && { payload: { slug: 'x', role: 'x' } }) });
      assert.equal(res.statusCode, 403, `${method} ${url}`);
      assert.match(res.headers['www-authenticate'] as string, /insufficient_scope/);
      assert.equal((await t.inject({ method: method as 'GET', url })).statusCode, 401, `${method} ${url} without a token`);
    }
  });

  test('malicious: registration cannot carry roles, tenants or memberships', async () => {
    const res = await t.inject({
      method: 'POST',
      url: '/auth/register',
      payload: { username: 'sneaky', password: TEST_PASSWORD, roles: ['admin'], tenant: 'acme' },
    });
    assert.equal(res.statusCode, 400);
    assert.equal(res.json<{ code: string }>().code, 'ERR_VALIDATION');
  });

  test('malicious: a global role cannot be granted inside a tenant', async () => {
    assert.equal((await admin('POST', '/admin/tenants', { slug: 'acme', name: 'Acme Corp' })).statusCode, 201);
    assert.equal((await admin('PUT', `/admin/tenants/acme/members/${ids.dana}`)).statusCode, 200);
    for (const role of ['admin', 'user', 'Not A Role']) {
      const res = await admin('POST', `/admin/tenants/acme/members/${ids.dana}/roles`, { role });
      assert.equal(res.statusCode, 400, role);
    }
    const scopes = (JSON.parse(Buffer.from((await jsonLogin('dana')).json<Tokens>().access_token.split('.')[1]!, 'base64url').toString()) as { scope: string })
      .scope;
    assert.doesNotMatch(scopes, /admin:/);
  });

  test('create: a taken slug (any case) is 409 ERR_TENANT_TAKEN; a bad slug is 400; an unknown tenant or user 404', async () => {
    const taken = await admin('POST', '/admin/tenants', { slug: 'ACME' });
    assert.equal(taken.statusCode, 409);
    assert.equal(taken.json<{ code: string }>().code, 'ERR_TENANT_TAKEN');
    assert.equal((await admin('POST', '/admin/tenants', { slug: 'a b' })).statusCode, 400);
    assert.equal((await admin('GET', '/admin/tenants/nope/members')).statusCode, 404);
    assert.equal((await admin('PUT', '/admin/tenants/acme/members/00000000-0000-4000-8000-000000000000')).statusCode, 404);
    assert.equal((await admin('PUT', '/admin/tenants/acme/members/not-a-uuid')).statusCode, 404);
  });

  test("a login to the user's only tenant carries tid and that tenant's roles; membership is listed; the audit has actor and target", async () => {
    assert.equal((await admin('POST', `/admin/tenants/acme/members/${ids.dana}/roles`, { role: 'clerk' })).statusCode, 200);
    const tokens = (await jsonLogin('dana')).json<Tokens>();
    const claims = decodeJwt(tokens.access_token);
    const acme = (await admin('GET', '/admin/tenants')).json<{ tenants: { id: string; slug: string }[] }>().tenants.find((x) => x.slug === 'acme')!;
    assert.equal(claims.tid, acme.id);
    assert.deepEqual(claims.roles, ['clerk']);
    const members = (await admin('GET', '/admin/tenants/acme/members')).json<{ members: { user_id: string; roles: string[] }[] }>().members;
    assert.deepEqual(members, [{ ...members[0]!, user_id: ids.dana, roles: ['clerk'] }]);
    const audit = (await admin('GET', `/admin/audit?user=${ids.dana}&event=tenant_role.granted`)).json<{ events: { actor_id: string; reason: string }[] }>()
      .events;
    assert.equal(audit[0]?.actor_id, ids.root);
    assert.equal(audit[0]?.reason, 'acme:clerk');
  });

  test('revoking a tenant role kills the live tokens; the next login no longer has it', async () => {
    const before = (await jsonLogin('dana')).json<Tokens>().access_token;
    assert.equal((await t.inject({ method: 'GET', url: '/me', headers: bearer(before) })).statusCode, 200);
    assert.equal((await admin('DELETE', `/admin/tenants/acme/members/${ids.dana}/roles/clerk`)).statusCode, 200);
    assert.equal((await t.inject({ method: 'GET', url: '/me', headers: bearer(before) })).statusCode, 401);
    assert.deepEqual(decodeJwt((await jsonLogin('dana')).json<Tokens>().access_token).roles, []);
  });

  test('malicious: leaving the tenant kills the tokens and the session bound to it cannot refresh', async () => {
    const tokens = (await jsonLogin('dana', 'acme')).json<Tokens>();
    assert.equal((await admin('DELETE', `/admin/tenants/acme/members/${ids.dana}`)).statusCode, 204);
    assert.equal((await t.inject({ method: 'GET', url: '/me', headers: bearer(tokens.access_token) })).statusCode, 401);
    const refreshed = await t.inject({ method: 'POST', url: '/auth/refresh', payload: { refresh_token: tokens.refresh_token } });
    assert.equal(refreshed.statusCode, 400);
    assert.equal(refreshed.json<{ error: string }>().error, 'invalid_grant');
    // Not a member any more: naming the tenant is refused like a wrong password.
    assert.equal((await jsonLogin('dana', 'acme')).statusCode, 401);
  });

  test('refresh keeps the tenant of the session', async () => {
    assert.equal((await admin('PUT', `/admin/tenants/acme/members/${ids.erin}`)).statusCode, 200);
    const first = (await jsonLogin('erin', 'acme')).json<Tokens>();
    const next = await t.inject({ method: 'POST', url: '/auth/refresh', payload: { refresh_token: first.refresh_token } });
    assert.equal(next.statusCode, 200, next.body);
    assert.equal(decodeJwt(next.json<Tokens>().access_token).tid, decodeJwt(first.access_token).tid);
  });
});
