import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import type { LightMyRequestResponse } from 'fastify';
import { NO_AUDIT_CONTEXT } from '../../src/audit/audit-event.js';
import { ForbiddenError } from '../../src/errors/errors.js';
import { bearer, startTestApp, TEST_PASSWORD, type TestApp } from '../support/test-app.js';

interface Account {
  readonly id: string;
  readonly name: string;
  readonly roles: string[];
  readonly tenants: { id: string; slug: string; roles: string[] }[];
  readonly disabled_at: string | null;
}

const FORM = { 'content-type': 'application/x-www-form-urlencoded', 'sec-fetch-site': 'same-origin' };

describe('service accounts (/admin/service-accounts)', () => {
  let t: TestApp;
  let adminToken: string;
  let bobToken: string;
  let admin: { id: string };

  before(async () => {
    // Every failed sign-in below is a guess: the login limits must not be what answers.
    t = await startTestApp({ env: { GATEHOUSE_LIMIT_LOGIN_USER_IP: '1000/1m', GATEHOUSE_LIMIT_LOGIN_USER: '1000/1m', GATEHOUSE_LIMIT_LOGIN_IP: '1000/1m' } });
    admin = await t.register('sa-admin');
    await t.services.userDirectory.changeRole(admin.id, { grant: 'admin' });
    adminToken = (await t.login('sa-admin')).access_token;
    await t.register('sa-bob');
    bobToken = (await t.login('sa-bob')).access_token;
  });
  after(async () => t.close());

  const asAdmin = (method: 'GET' | 'POST' | 'DELETE', url: string, payload?: object) =>
    t.inject({ method, url, headers: bearer(adminToken), ...(payload === undefined ? {} : { payload }) });
  const newAccount = async (name: string, body: object = {}): Promise<Account> => {
    const res = await asAdmin('POST', '/admin/service-accounts', { name, roles: [], ...body });
    assert.equal(res.statusCode, 201, res.body);
    return res.json<Account>();
  };
  const newKey = async (accountId: string, body: object = { name: 'job', scopes: ['profile'] }): Promise<{ id: string; key: string }> => {
    const res = await asAdmin('POST', `/admin/service-accounts/${accountId}/keys`, body);
    assert.equal(res.statusCode, 201, res.body);
    return res.json();
  };
  const meStatus = async (key: string) => (await t.inject({ method: 'GET', url: '/me', headers: { 'x-api-key': key } })).statusCode;

  test('malicious: a non-admin, or no token, gets nothing from any service-account route', async () => {
    const account = await newAccount('sa-guarded');
    const routes = [
      ['POST', '/admin/service-accounts', { name: 'sa-mine', roles: [] }],
      ['GET', '/admin/service-accounts', undefined],
      ['POST', `/admin/service-accounts/${account.id}/disable`, undefined],
      ['DELETE', `/admin/service-accounts/${account.id}`, undefined],
      ['POST', `/admin/service-accounts/${account.id}/keys`, { name: 'k', scopes: ['profile'] }],
      ['GET', `/admin/service-accounts/${account.id}/keys`, undefined],
      ['DELETE', `/admin/service-accounts/${account.id}/keys/00000000000000000`, undefined],
    ] as const;
    for (const [method, url, payload] of routes) {
      const withPayload = payload === undefined ? {} : { payload };
      assert.equal((await t.inject({ method, url, headers: bearer(bobToken), ...withPayload })).statusCode, 403, `${method} ${url} as bob`);
      assert.equal((await t.inject({ method, url, ...withPayload })).statusCode, 401, `${method} ${url} anonymous`);
    }
    const listed = await asAdmin('GET', '/admin/service-accounts?limit=200');
    assert.ok(!listed.json<{ service_accounts: Account[] }>().service_accounts.some((a) => a.name === 'sa-mine'), 'nothing was created by bob');
    assert.equal(await t.services.users.findById(account.id).then((u) => u?.disabledAt ?? null), null, 'nor disabled');
  });

  test('malicious: a service account cannot sign in anywhere: the same answer and the same hashing work as a wrong password', async () => {
    const account = await newAccount('sa-nologin');
    await t.register('sa-person');
    // Verifications asked for from outside the hasher (its dummyVerify runs a verify of its own).
    let hashes = 0;
    let depth = 0;
    const counted =
      <A extends unknown[], R>(inner: (...args: A) => Promise<R>) =>
      async (...args: A): Promise<R> => {
        if (depth === 0) hashes++;
        depth++;
        try {
          return await inner(...args);
        } finally {
          depth--;
        }
      };
    const hasher = t.services.hasher as { verify: (h: string, p: string) => Promise<boolean>; dummyVerify: (p: string) => Promise<void> };
    const [verify, dummy] = [hasher.verify.bind(hasher), hasher.dummyVerify.bind(hasher)];
    hasher.verify = counted(verify);
    hasher.dummyVerify = counted(dummy);
    const work = async (send: () => Promise<LightMyRequestResponse>) => {
      const before = hashes;
      const res = await send();
      return { res, hashes: hashes - before };
    };
    const tokenGrant = (username: string) =>
      t.inject({
        method: 'POST',
        url: '/auth/token',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        payload: new URLSearchParams({ grant_type: 'password', username, password: 'a guessed password' }).toString(),
      });
    const jsonLogin = (username: string) => t.inject({ method: 'POST', url: '/auth/login', payload: { username, password: 'a guessed password' } });
    const cookieSignIn = (username: string) =>
      t.inject({ method: 'POST', url: '/auth/session', headers: { 'sec-fetch-site': 'same-origin' }, payload: { username, password: 'a guessed password' } });
    const pageSignIn = async (username: string) => {
      const page = await t.inject({ method: 'GET', url: '/login' });
      const cookie = [page.headers['set-cookie'] ?? []]
        .flat()
        .map((c) => c.split(';')[0]!)
        .find((c) => c.startsWith('__Host-gatehouse_csrf='))!;
      const csrf = /name="_csrf" value="([^"]+)"/.exec(page.body)![1]!;
      return t.inject({
        method: 'POST',
        url: '/login',
        headers: { ...FORM, cookie },
        payload: new URLSearchParams({ _csrf: csrf, username, password: 'a guessed password', tenant: '', return_to: '/account' }).toString(),
      });
    };
    // What may differ between two answers: ids of the request, the form's fresh CSRF token, and the name it echoes.
    const shape = (username: string, { res, hashes }: { res: LightMyRequestResponse; hashes: number }) => ({
      status: res.statusCode,
      hashes,
      cookie: res.headers['set-cookie'] === undefined ? undefined : 'set',
      body: res.body
        .replaceAll(username, '(name)')
        .replace(/"(request_id|instance)":"[^"]*"/g, '')
        .replace(/name="_csrf" value="[^"]+"/, '')
        .replace(/\?request_id=[^"&]*/g, ''),
    });
    try {
      for (const send of [tokenGrant, jsonLogin, cookieSignIn, pageSignIn]) {
        const asService = shape(account.name, await work(() => send(account.name)));
        const asPerson = shape('sa-person', await work(() => send('sa-person')));
        assert.ok(asService.status >= 400, `${send.name}: refused`);
        assert.deepEqual(asService, asPerson, `${send.name}: the service account's refusal is a wrong password's`);
        assert.equal(asService.hashes, 1, `${send.name}: one password verification's work`);
      }
    } finally {
      hasher.verify = verify;
      hasher.dummyVerify = dummy;
    }
    const failed = await t.services.audit.list({ subjectId: account.id, event: 'login.failed', limit: 10 });
    assert.ok(
      failed.some((r) => r.reason === 'service_account'),
      'the audit trail says why',
    );
  });

  test('malicious: registering a person under a service account name (or a look-alike) is refused as any taken name', async () => {
    await newAccount('sa-deploybot');
    await t.register('sa-someone');
    const register = (username: string) => t.inject({ method: 'POST', url: '/auth/register', payload: { username, password: TEST_PASSWORD } });
    const strip = (res: LightMyRequestResponse) => ({ status: res.statusCode, body: res.body.replace(/"(request_id|instance)":"[^"]*"/g, '') });
    const taken = strip(await register('sa-someone'));
    assert.equal(taken.status, 409);
    assert.deepEqual(strip(await register('sa-deploybot')), taken);
    assert.deepEqual(strip(await register('SA-DEPLOYBOT')), taken);
    assert.equal((await asAdmin('POST', '/admin/service-accounts', { name: 'sa-someone', roles: [] })).statusCode, 409, 'nor a bot under a person name');
  });

  test('malicious: scope escalation: a key of the account may carry only scopes the account holds', async () => {
    const account = await newAccount('sa-plain');
    const escalate = await asAdmin('POST', `/admin/service-accounts/${account.id}/keys`, { name: 'k', scopes: ['profile', 'admin:users'] });
    assert.equal(escalate.statusCode, 403, escalate.body);
    const auditor = await newAccount('sa-auditor', { roles: ['admin'] });
    const { key } = await newKey(auditor.id, { name: 'k', scopes: ['profile', 'admin:audit'] });
    const principal = await t.services.apiKeys.authenticate(key, NO_AUDIT_CONTEXT);
    assert.deepEqual([...principal.scopes].sort(), ['admin:audit', 'profile']);
    assert.equal((await asAdmin('POST', '/admin/service-accounts', { name: 'sa-bad-role', roles: ['no-such-role'] })).statusCode, 400);
  });

  test('malicious: a disabled account has every key refused at once; deleting it takes its keys', async () => {
    const account = await newAccount('sa-disable-me');
    const { key } = await newKey(account.id);
    assert.equal(await meStatus(key), 200);
    const disabled = await asAdmin('POST', `/admin/service-accounts/${account.id}/disable`);
    assert.equal(disabled.statusCode, 200, disabled.body);
    assert.notEqual(disabled.json<Account>().disabled_at, null);
    assert.equal(await meStatus(key), 401);

    const other = await newAccount('sa-delete-me');
    const second = await newKey(other.id);
    assert.equal(await meStatus(second.key), 200);
    assert.equal((await asAdmin('DELETE', `/admin/service-accounts/${other.id}`)).statusCode, 204);
    assert.equal(await meStatus(second.key), 401);
    assert.equal((await asAdmin('GET', `/admin/service-accounts/${other.id}/keys`)).statusCode, 404);
    const events = await t.services.audit.list({ subjectId: other.id, limit: 10 });
    assert.deepEqual(
      events.map((e) => [e.event, e.actorId]).filter(([e]) => String(e).startsWith('service_account.')),
      [
        ['service_account.deleted', admin.id],
        ['service_account.created', admin.id],
      ],
    );
    const disabledTrail = await t.services.audit.list({ subjectId: account.id, event: 'service_account.disabled', limit: 10 });
    assert.equal(disabledTrail.length, 1);
  });

  test('malicious: a person is no service account: its id is 404 on every service-account route, and it is left as it was', async () => {
    const person = await t.register('sa-not-a-bot');
    for (const [method, url] of [
      ['POST', `/admin/service-accounts/${person.id}/disable`],
      ['DELETE', `/admin/service-accounts/${person.id}`],
      ['GET', `/admin/service-accounts/${person.id}/keys`],
      ['POST', `/admin/service-accounts/${person.id}/keys`],
      ['POST', `/admin/service-accounts/${randomUUID()}/disable`],
      ['POST', '/admin/service-accounts/not-a-uuid/disable'],
    ] as const) {
      const res = await asAdmin(method, url, method === 'POST' && url.endsWith('/keys') ? { name: 'k', scopes: ['profile'] } : undefined);
      assert.equal(res.statusCode, 404, `${method} ${url}: ${res.body}`);
    }
    const still = await t.services.users.findById(person.id);
    assert.equal(still?.disabledAt, null);
    assert.deepEqual(await t.services.apiKeys.list(person.id), []);
  });

  test('keys: created, listed without the secret, revoked (refused at once)', async () => {
    const account = await newAccount('sa-keys');
    const { id, key } = await newKey(account.id);
    const listed = await asAdmin('GET', `/admin/service-accounts/${account.id}/keys`);
    assert.equal(listed.statusCode, 200);
    assert.equal(listed.json<{ id: string }[]>()[0]?.id, id);
    assert.ok(!listed.body.includes(key.slice(-20)), 'never the key');
    assert.equal((await asAdmin('DELETE', `/admin/service-accounts/${account.id}/keys/${id}`)).statusCode, 204);
    assert.equal(await meStatus(key), 401);
    assert.equal((await asAdmin('DELETE', `/admin/service-accounts/${account.id}/keys/${id}`)).statusCode, 404, 'revoked already');
    const revokedTrail = await t.services.audit.list({ subjectId: account.id, event: 'api_key.revoked', limit: 10 });
    assert.equal(revokedTrail[0]?.actorId, admin.id, 'the admin is the actor');
  });

  test('a tenant account holds its roles in the tenant only; its tenant key needs the membership', async () => {
    const tenant = await t.services.tenants.create({ id: randomUUID(), slug: 'sa-co', name: 'SA Co' });
    const account = await newAccount('sa-tenant-bot', { tenant: tenant.id, roles: [] });
    assert.deepEqual(account.roles, []);
    assert.deepEqual(
      account.tenants.map((m) => m.slug),
      ['sa-co'],
    );
    const { key } = await newKey(account.id, { name: 'k', scopes: ['profile'], tenant: tenant.id });
    assert.equal(await meStatus(key), 200);
    assert.equal((await asAdmin('POST', '/admin/service-accounts', { name: 'sa-nowhere', roles: [], tenant: randomUUID() })).statusCode, 400);
    const listed = await asAdmin('GET', '/admin/service-accounts?limit=200');
    const names = listed.json<{ service_accounts: Account[] }>().service_accounts.map((a) => a.name);
    assert.ok(names.includes('sa-tenant-bot'));
    assert.ok(!names.includes('sa-admin'), 'people are not listed');
  });

  test('malicious: a service account cannot manage keys itself (a leaked key must not mint more)', async () => {
    const account = await newAccount('sa-self');
    const { id } = await newKey(account.id);
    await assert.rejects(t.services.apiKeys.create(account.id, { name: 'more', scopes: ['profile'] }, NO_AUDIT_CONTEXT), ForbiddenError);
    await assert.rejects(t.services.apiKeys.rotate(account.id, id, 0, NO_AUDIT_CONTEXT), ForbiddenError);
    assert.equal((await t.services.apiKeys.list(account.id)).length, 1, 'nothing minted');
  });
});
