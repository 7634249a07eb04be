import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { loadConfig } from '../../../src/config/config.js';
import { servicesOf } from '../../../src/http/mounted-services.js';
import { generateSigningJwk } from '../../../src/keys/development-keys.js';
import { addMember, changeMemberRole, createTenant } from '../../../src/tenants/tenant-admin.js';
import { NO_AUDIT_CONTEXT } from '../../../src/audit/audit-event.js';
import { createTestStores, withTestTemplate, type TestStores } from '../../../test/support/test-stores.js';
import { buildOrdersApi, ORDERS_RESOURCE } from '../src/app.js';

const PASSWORD = 'correct horse battery staple';
const OPERATOR = { userId: null, context: NO_AUDIT_CONTEXT };

describe('examples/orders-api: Gatehouse mounted as a plugin, guarding the host routes', () => {
  let stores: TestStores;
  let app: FastifyInstance;
  const ids: Record<string, string> = {};
  const orderOf: Record<string, string> = {};

  const call = (method: 'GET' | 'POST', url: string, token?: string, payload?: object) =>
    app.inject({
      method,
      url,
      ...(token === undefined ? {} : { headers: { authorization: `Bearer ${token}` } }),
      ...(payload === undefined ? {} : { payload }),
    });
  const login = async (username: string, tenant?: string): Promise<string> => {
    const res = await call('POST', '/identity/auth/login', undefined, {
      username,
      password: PASSWORD,
      resource: ORDERS_RESOURCE,
      ...(tenant === undefined ? {} : { tenant }),
    });
    assert.equal(res.statusCode, 200, res.body);
    return res.json<{ access_token: string }>().access_token;
  };

  before(async () => {
    stores = await createTestStores();
    const config = withTestTemplate(
      loadConfig({
        GATEHOUSE_ENV: 'development',
        GATEHOUSE_ISSUER: 'https://orders.test/identity',
        GATEHOUSE_DATABASE_URL: stores.databaseUrl,
        GATEHOUSE_REDIS_KEY_PREFIX: stores.redisKeyPrefix,
        ...(stores.redisUrl === undefined ? {} : { GATEHOUSE_REDIS_URL: stores.redisUrl }),
      }),
    );
    app = await buildOrdersApi({ gatehouse: { config, signingKeys: [await generateSigningJwk()] } });
    await app.ready();
    const deps = { tenants: servicesOf(app).tenants, revocations: servicesOf(app).revocations, scopes: servicesOf(app).scopes, now: Date.now };
    for (const slug of ['acme', 'globex']) await createTenant(deps, OPERATOR, { slug });
    // alice: customer in acme; bob: customer in acme; mia: manager in acme AND in globex; gus: manager in globex only.
    const members: [string, [string, string][]][] = [
      ['alice', [['acme', 'customer']]],
      ['bob', [['acme', 'customer']]],
      [
        'mia',
        [
          ['acme', 'manager'],
          ['globex', 'manager'],
        ],
      ],
      ['gus', [['globex', 'manager']]],
    ];
    for (const [username, tenants] of members) {
      const res = await call('POST', '/identity/auth/register', undefined, { username, password: PASSWORD });
      assert.equal(res.statusCode, 201, res.body);
      ids[username] = res.json<{ id: string }>().id;
      for (const [tenant, role] of tenants) {
        await addMember(deps, OPERATOR, tenant, ids[username]!);
        await changeMemberRole(deps, OPERATOR, tenant, ids[username]!, role, true);
      }
    }
    for (const username of ['alice', 'bob']) {
      const placed = await call('POST', '/orders', await login(username), { item: `${username}'s teapot`, quantity: 1 });
      assert.equal(placed.statusCode, 201, placed.body);
      orderOf[username] = placed.json<{ id: string }>().id;
    }
  });
  after(async () => {
    await app?.close();
    await stores?.cleanup();
  });

  test("malicious: a token of tenant globex on acme's order is 403, even for a manager there", async () => {
    const gus = await login('gus');
    const res = await call('GET', `/orders/${orderOf.alice}`, gus);
    assert.equal(res.statusCode, 403);
    assert.equal(res.json<{ code: string }>().code, 'ERR_FORBIDDEN');
    // mia manages both tenants: acting in globex she still cannot reach acme's order.
    assert.equal((await call('GET', `/orders/${orderOf.alice}`, await login('mia', 'globex'))).statusCode, 403);
    assert.equal((await call('GET', `/orders/${orderOf.alice}`, await login('mia', 'acme'))).statusCode, 200);
  });

  test("malicious: another user's order in the same tenant is 403; the owner gets it", async () => {
    const bob = await login('bob');
    assert.equal((await call('GET', `/orders/${orderOf.alice}`, bob)).statusCode, 403);
    const alice = await call('GET', `/orders/${orderOf.alice}`, await login('alice'));
    assert.equal(alice.statusCode, 200);
    assert.equal(alice.json<{ owner_id: string }>().owner_id, ids.alice);
  });

  test('malicious: a user without the scope gets 403 insufficient_scope (a customer refunding)', async () => {
    const res = await call('POST', `/orders/${orderOf.alice}/refund`, await login('alice'));
    assert.equal(res.statusCode, 403);
    assert.match(res.headers['www-authenticate'] as string, /error="insufficient_scope"/);
  });

  test('malicious: a user of two tenants who named none gets no orders token, and her default token reaches no tenant route', async () => {
    // Bound to no tenant she holds none of the orders scopes (tenant roles grant them): nothing to issue.
    const refused = await call('POST', '/identity/auth/login', undefined, { username: 'mia', password: PASSWORD, resource: ORDERS_RESOURCE });
    assert.equal(refused.statusCode, 400, refused.body);
    assert.equal(refused.json<{ code: string }>().code, 'ERR_OAUTH_INVALID_SCOPE');
    const plain = await call('POST', '/identity/auth/login', undefined, { username: 'mia', password: PASSWORD });
    const mia = plain.json<{ access_token: string }>().access_token;
    assert.equal((await call('GET', '/orders', mia)).statusCode, 401);
    assert.equal((await call('GET', `/orders/${orderOf.alice}`, mia)).statusCode, 401);
  });

  test('malicious: a login naming a tenant the user is not in is refused like a wrong password', async () => {
    const wrongTenant = await call('POST', '/identity/auth/login', undefined, { username: 'alice', password: PASSWORD, tenant: 'globex' });
    const wrongPassword = await call('POST', '/identity/auth/login', undefined, { username: 'alice', password: `${PASSWORD}!`, tenant: 'globex' });
    assert.equal(wrongTenant.statusCode, 401);
    assert.equal(wrongTenant.statusCode, wrongPassword.statusCode);
    assert.deepEqual({ ...wrongTenant.json<object>(), request_id: null }, { ...wrongPassword.json<object>(), request_id: null });
  });

  test('malicious: the manager role removed since login (not yet spread to the token) denies the fresh refund route, while the token still reads', async () => {
    const token = await login('mia', 'acme');
    // Straight in the store, as another instance would before its revocation reaches this one:
    // the token version does not move, so only a fresh check can see it.
    await servicesOf(app).tenants.changeMemberRole((await servicesOf(app).tenants.findBySlug('acme'))!.id, ids.mia!, { revoke: 'manager' });
    try {
      assert.equal((await call('GET', `/orders/${orderOf.bob}`, token)).statusCode, 200, 'a non-fresh route goes by the token');
      const refund = await call('POST', `/orders/${orderOf.bob}/refund`, token);
      assert.equal(refund.statusCode, 403);
      assert.equal((await call('GET', `/orders/${orderOf.bob}`, await login('bob'))).json<{ refunded: boolean }>().refunded, false);
    } finally {
      await servicesOf(app).tenants.changeMemberRole((await servicesOf(app).tenants.findBySlug('acme'))!.id, ids.mia!, { grant: 'manager' });
    }
  });

  test('a manager of the tenant refunds; the order says so', async () => {
    const res = await call('POST', `/orders/${orderOf.bob}/refund`, await login('mia', 'acme'));
    assert.equal(res.statusCode, 200, res.body);
    assert.equal(res.json<{ refunded: boolean }>().refunded, true);
  });

  test('lists: a customer sees only their orders, a manager the whole tenant, nobody another tenant', async () => {
    const alice = (await call('GET', '/orders', await login('alice'))).json<{ orders: { owner_id: string }[] }>().orders;
    assert.deepEqual(
      alice.map((o) => o.owner_id),
      [ids.alice],
    );
    const mia = (await call('GET', '/orders', await login('mia', 'acme'))).json<{ orders: unknown[] }>().orders;
    assert.equal(mia.length, 2);
    const gus = (await call('GET', '/orders', await login('gus'))).json<{ orders: unknown[] }>().orders;
    assert.equal(gus.length, 0);
  });

  test('an unknown order is 404 before any policy runs; no token is 401; a public route needs none', async () => {
    assert.equal((await call('GET', '/orders/00000000-0000-4000-8000-000000000000', await login('alice'))).statusCode, 404);
    const anonymous = await call('GET', `/orders/${orderOf.alice}`);
    assert.equal(anonymous.statusCode, 401);
    assert.match(anonymous.headers['www-authenticate'] as string, /^Bearer/);
    assert.equal((await call('GET', '/health')).statusCode, 200);
  });

  test("Gatehouse's endpoints live under the prefix only", async () => {
    assert.equal((await call('GET', '/identity/.well-known/jwks.json')).statusCode, 200);
    assert.equal((await call('GET', '/.well-known/jwks.json')).statusCode, 404);
  });

  test('malicious: a host route added without a declaration makes startup fail', async () => {
    const config = loadConfig({ GATEHOUSE_ENV: 'development', GATEHOUSE_ISSUER: 'https://orders.test/identity', GATEHOUSE_DATABASE_URL: 'memory:' });
    const host = await buildOrdersApi({ gatehouse: { config, signingKeys: [await generateSigningJwk()] } });
    try {
      assert.throws(() => host.get('/orders/export', async () => []), /declares no auth requirement/);
    } finally {
      await host.close();
    }
  });
});
