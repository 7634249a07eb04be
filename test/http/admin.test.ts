import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { decodeJwt } from 'jose';
import { bearer, startTestApp, TEST_PASSWORD, type TestApp } from '../support/test-app.js';

const FORM = { 'content-type': 'application/x-www-form-urlencoded' };

interface Tokens {
  access_token: string;
  refresh_token: string;
  scope: string;
}

describe('admin API', () => {
  let t: TestApp;
  let adminToken: string;
  let adminId: string;

  const login = async (username: string, password = TEST_PASSWORD) => (await t.login(username, password)) as unknown as Tokens;
  const loginStatus = async (username: string) =>
    (
      await t.inject({
        method: 'POST',
        url: '/auth/token',
        headers: FORM,
        payload: new URLSearchParams({ grant_type: 'password', username, password: TEST_PASSWORD }).toString(),
      })
    ).statusCode;
  const me = async (token: string) => (await t.inject({ method: 'GET', url: '/me', headers: bearer(token) })).statusCode;
  const refresh = async (token: string) => (await t.inject({ method: 'POST', url: '/auth/refresh', payload: { refresh_token: token } })).statusCode;
  const admin = (method: 'GET' | 'POST' | 'DELETE', url: string, payload?: object) =>
    t.inject({ method, url, headers: bearer(adminToken), ...(payload === undefined ? {} : { payload }) });

  before(async () => {
    t = await startTestApp();
    const created = await t.register('root-admin');
    adminId = created.id;
    // The first admin comes from outside the API (the CLI does this through the directory).
    await t.services.userDirectory.changeRole(created.id, { grant: 'admin' });
    const tokens = await login('root-admin');
    assert.deepEqual(tokens.scope.split(' ').sort(), ['admin:audit', 'admin:tenants', 'admin:users', 'profile']);
    adminToken = tokens.access_token;
  });
  after(() => t.close());

  test('malicious: an admin demoted a moment ago (not yet spread to the token) is refused at once: admin routes check freshly', async () => {
    const second = await t.register('second-admin');
    await t.services.userDirectory.changeRole(second.id, { grant: 'admin' });
    const token = (await login('second-admin')).access_token;
    assert.equal((await t.inject({ method: 'GET', url: '/admin/users', headers: bearer(token) })).statusCode, 200);
    // Straight in the directory: no token-version bump, as another instance's change before it spreads.
    await t.services.userDirectory.changeRole(second.id, { revoke: 'admin' });
    for (const url of ['/admin/users', '/admin/audit', '/admin/tenants']) {
      const res = await t.inject({ method: 'GET', url, headers: bearer(token) });
      assert.equal(res.statusCode, 403, url);
    }
    assert.equal(await me(token), 200, 'the token itself still works where freshness is not asked for');
  });

  test('a normal user gets 403 insufficient_scope on every admin route; no token gets 401', async () => {
    const mallory = await t.register('mallory');
    const token = (await login('mallory')).access_token;
    const routes: [string, string, object?][] = [
      ['GET', '/admin/users'],
      ['GET', `/admin/users/${adminId}`],
      ['POST', `/admin/users/${adminId}/disable`],
      ['POST', `/admin/users/${adminId}/lock`],
      ['POST', `/admin/users/${adminId}/logout`],
      ['POST', `/admin/users/${mallory.id}/roles`, { role: 'admin' }],
      ['DELETE', `/admin/users/${adminId}/roles/admin`],
      ['DELETE', `/admin/users/${adminId}`],
      ['GET', '/admin/audit'],
    ];
    for (const [method, url, payload] of routes) {
      const withToken = await t.inject({ method: method as 'GET', url, headers: bearer(token), ...(payload === undefined ? {} : { payload }) });
      assert.equal(withToken.statusCode, 403, `${method} ${url}`);
      assert.match(String(withToken.headers['www-authenticate']), /insufficient_scope/);
      const without = await t.inject({ method: method as 'GET', url, ...(payload === undefined ? {} : { payload }) });
      assert.equal(without.statusCode, 401, `${method} ${url} without a token`);
    }
    // Nothing happened to the admin.
    assert.equal(await me(adminToken), 200);
    const self = await t.inject({ method: 'GET', url: '/me', headers: bearer(token) });
    assert.deepEqual(self.json().roles, []);
  });

  test('a user cannot give itself roles through registration or a narrower scope request', async () => {
    const res = await t.inject({ method: 'POST', url: '/auth/register', payload: { username: 'sneaky', password: TEST_PASSWORD, roles: ['admin'] } });
    assert.equal(res.statusCode, 400);
    await t.register('sneaky2');
    const asked = await t.inject({
      method: 'POST',
      url: '/auth/token',
      headers: FORM,
      payload: new URLSearchParams({ grant_type: 'password', username: 'sneaky2', password: TEST_PASSWORD, scope: 'admin:users' }).toString(),
    });
    assert.equal(asked.statusCode, 400);
    assert.equal(asked.json().error, 'invalid_scope');
  });

  for (const [mark, undo] of [
    ['disable', 'enable'],
    ['lock', 'unlock'],
  ] as const) {
    test(`${mark}: live tokens die at once, refresh and login are refused like a wrong password; ${undo} lets the user log in again`, async () => {
      const victim = await t.register(`victim-${mark}`);
      const tokens = await login(`victim-${mark}`);
      assert.equal(await me(tokens.access_token), 200);

      const res = await admin('POST', `/admin/users/${victim.id}/${mark}`);
      assert.equal(res.statusCode, 200);
      assert.ok(res.json()[mark === 'disable' ? 'disabled_at' : 'locked_at']);

      assert.equal(await me(tokens.access_token), 401, 'the live access token is dead');
      assert.equal(await refresh(tokens.refresh_token), 400, 'the refresh token is dead');
      const refused = await t.inject({
        method: 'POST',
        url: '/auth/token',
        headers: FORM,
        payload: new URLSearchParams({ grant_type: 'password', username: `victim-${mark}`, password: TEST_PASSWORD }).toString(),
      });
      const wrong = await t.inject({
        method: 'POST',
        url: '/auth/token',
        headers: FORM,
        payload: new URLSearchParams({ grant_type: 'password', username: `victim-${mark}`, password: 'not the password at all' }).toString(),
      });
      assert.equal(refused.statusCode, 400);
      assert.equal(refused.body, wrong.body, 'a disabled or locked account looks like a wrong password');

      assert.equal((await admin('POST', `/admin/users/${victim.id}/${undo}`)).statusCode, 200);
      assert.equal(await me(tokens.access_token), 401, 'lifting the mark brings no revoked token back');
      assert.equal(await loginStatus(`victim-${mark}`), 200);

      const done = { disable: 'user.disabled', enable: 'user.enabled', lock: 'user.locked', unlock: 'user.unlocked' };
      const trail = (await t.services.audit.list({ subjectId: victim.id, limit: 50 })).reverse().map((r) => `${r.event} by ${r.actorId}`);
      const marked = trail.indexOf(`${done[mark]} by ${adminId}`);
      assert.ok(marked > 0, `the ${mark} is audited with the admin as actor: ${trail.join(', ')}`);
      assert.ok(trail.indexOf(`${done[undo]} by ${adminId}`) > marked, `then the ${undo}: ${trail.join(', ')}`);
    });
  }

  test('revoking a role kills the tokens minted while the user held it', async () => {
    const bob = await t.register('bob-admin');
    assert.equal((await admin('POST', `/admin/users/${bob.id}/roles`, { role: 'admin' })).json().roles.includes('admin'), true);
    const tokens = await login('bob-admin');
    assert.ok(tokens.scope.includes('admin:users'));
    assert.equal((await t.inject({ method: 'GET', url: '/admin/users', headers: bearer(tokens.access_token) })).statusCode, 200);

    const revoked = await admin('DELETE', `/admin/users/${bob.id}/roles/admin`);
    assert.equal(revoked.statusCode, 200);
    assert.deepEqual(revoked.json().roles, []);
    assert.equal((await t.inject({ method: 'GET', url: '/admin/users', headers: bearer(tokens.access_token) })).statusCode, 401, 'the old admin token is dead');
    const fresh = await login('bob-admin');
    assert.equal(fresh.scope, 'profile', 'a new login holds only what the user holds now');
  });

  test('grant: an unknown or implicit role is a 400; granting twice keeps one copy', async () => {
    const carol = await t.register('carol-roles');
    for (const role of ['superuser', 'user', '', 'admin; DROP TABLE users']) {
      assert.equal((await admin('POST', `/admin/users/${carol.id}/roles`, { role })).statusCode, 400, role);
    }
    await admin('POST', `/admin/users/${carol.id}/roles`, { role: 'admin' });
    const twice = await admin('POST', `/admin/users/${carol.id}/roles`, { role: 'admin' });
    assert.deepEqual(twice.json().roles, ['admin']);
  });

  test("force logout kills every session and token of the user, and nobody else's", async () => {
    const dave = await t.register('dave-logout');
    await t.register('erin-bystander');
    const a = await login('dave-logout');
    const b = await login('dave-logout');
    const bystander = await login('erin-bystander');
    assert.equal((await admin('POST', `/admin/users/${dave.id}/logout`)).statusCode, 204);
    for (const tokens of [a, b]) {
      assert.equal(await me(tokens.access_token), 401);
      assert.equal(await refresh(tokens.refresh_token), 400);
    }
    assert.equal(await me(bystander.access_token), 200);
    assert.equal(await loginStatus('dave-logout'), 200, 'a force logout is not a lock');
  });

  test('an id in upper case is the same account: revoking a role through it kills the old token at once', async () => {
    const holly = await t.register('holly-case');
    await admin('POST', `/admin/users/${holly.id}/roles`, { role: 'admin' });
    const tokens = await login('holly-case');
    assert.equal(await me(tokens.access_token), 200);
    assert.equal((await admin('DELETE', `/admin/users/${holly.id.toUpperCase()}/roles/admin`)).statusCode, 200);
    assert.equal(await me(tokens.access_token), 401, 'the token minted while holding the role is dead');
  });

  test('delete: the token dies, the account is gone, the audit trail keeps its rows', async () => {
    const frank = await t.register('frank-delete');
    const tokens = await login('frank-delete');
    assert.equal((await admin('DELETE', `/admin/users/${frank.id}`)).statusCode, 204);
    assert.equal(await me(tokens.access_token), 401);
    assert.equal((await admin('GET', `/admin/users/${frank.id}`)).statusCode, 404);
    assert.equal((await admin('DELETE', `/admin/users/${frank.id}`)).statusCode, 404);
    const trail = await t.services.audit.list({ subjectId: frank.id, limit: 10 });
    assert.equal(trail[0]?.event, 'user.deleted');
    assert.equal(trail[0]?.actorId, adminId);
    assert.ok(trail.some((r) => r.event === 'user.registered'));
  });

  test('unknown and malformed ids are 404, never 500', async () => {
    for (const id of ['00000000-0000-4000-8000-000000000000', 'not-a-uuid', "' OR 1=1 --", 'x'.repeat(64)]) {
      for (const [method, suffix] of [
        ['GET', ''],
        ['POST', '/disable'],
        ['POST', '/lock'],
        ['POST', '/logout'],
        ['DELETE', ''],
      ] as const) {
        const res = await admin(method, `/admin/users/${encodeURIComponent(id)}${suffix}`);
        assert.equal(res.statusCode, 404, `${method} ${id}${suffix}`);
      }
    }
  });

  test('list and search: ordered by username, paginated by a cursor; `%` and `_` are literal', async () => {
    for (const name of ['search-a', 'search-b', 'search-c', 'searchXd']) await t.register(name);
    const page1 = (await admin('GET', '/admin/users?search=search-&limit=2')).json() as { users: { username: string }[]; next_after: string | null };
    assert.deepEqual(
      page1.users.map((u) => u.username),
      ['search-a', 'search-b'],
    );
    const page2 = (await admin('GET', `/admin/users?search=search-&limit=2&after=${page1.next_after}`)).json() as typeof page1;
    assert.deepEqual(
      page2.users.map((u) => u.username),
      ['search-c'],
    );
    const wildcard = (await admin('GET', '/admin/users?search=search_')).json() as typeof page1;
    assert.deepEqual(wildcard.users, [], '`_` is not a wildcard');
    const percent = (await admin('GET', '/admin/users?search=%25')).json() as typeof page1;
    assert.deepEqual(percent.users, [], '`%` is not a wildcard');
    const body = JSON.stringify((await admin('GET', '/admin/users?limit=200')).json());
    assert.ok(!body.includes('password') && !body.includes('$argon2'), 'no hash in the listing');
  });

  test('GET /admin/audit filters by user and event, newest first', async () => {
    const gina = await t.register('gina-audit');
    await t.inject({
      method: 'POST',
      url: '/auth/token',
      headers: FORM,
      payload: new URLSearchParams({ grant_type: 'password', username: 'gina-audit', password: 'nope nope nope nope' }).toString(),
    });
    const res = await admin('GET', `/admin/audit?user=${gina.id}`);
    assert.equal(res.statusCode, 200);
    assert.deepEqual(
      (res.json().events as { event: string }[]).map((e) => e.event),
      ['login.failed', 'user.registered'],
    );
    const failed = (await admin('GET', `/admin/audit?user=${gina.id}&event=login.failed`)).json().events as { reason: string }[];
    assert.deepEqual(
      failed.map((e) => e.reason),
      ['wrong_password'],
    );
    assert.equal((await admin('GET', '/admin/audit?user=not-a-uuid')).statusCode, 400);
  });

  test('admin tokens carry the admin scopes only because the role grants them', async () => {
    const claims = decodeJwt(adminToken);
    assert.equal(claims.sub, adminId);
    assert.ok(String(claims.scope).split(' ').includes('admin:users'));
  });
});
