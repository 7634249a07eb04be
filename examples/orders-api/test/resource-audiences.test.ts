import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { decodeJwt } from 'jose';
import { createInventoryApp } from '../../inventory-service/src/app.js';
import { loadConfig } from '../../../src/config/config.js';
import { servicesOf } from '../../../src/http/mounted-services.js';
import { generateSigningJwk } from '../../../src/keys/development-keys.js';
import { addMember, changeMemberRole, createTenant } from '../../../src/tenants/tenant-admin.js';
import { NO_AUDIT_CONTEXT } from '../../../src/audit/audit-event.js';
import { createTestStores, withTestTemplate, type TestStores } from '../../../test/support/test-stores.js';
import { buildOrdersApi, ORDERS_RESOURCE } from '../src/app.js';

const PASSWORD = 'correct horse battery staple';
const ISSUER = 'https://orders.test/identity';
const INVENTORY = 'urn:example:inventory-service';

/**
 * Two services trusting one Gatehouse (the one orders-api mounts): orders-api guards its routes
 * with Gatehouse's guard for its own resource, inventory-service verifies with the SDK for its own.
 * A token asked for one opens that one only (RFC 8707).
 */
describe('resource indicators across two services: a token for orders does not open inventory', () => {
  let stores: TestStores;
  let orders: FastifyInstance;
  let jwksUri: string;
  let inventory: ReturnType<typeof createInventoryApp>;
  /** The same service configured to take Gatehouse's default-audience tokens too. */
  let lenientInventory: ReturnType<typeof createInventoryApp>;

  const login = async (resource?: string): Promise<string> => {
    const res = await orders.inject({
      method: 'POST',
      url: '/identity/auth/login',
      payload: { username: 'alice', password: PASSWORD, tenant: 'acme', ...(resource === undefined ? {} : { resource }) },
    });
    assert.equal(res.statusCode, 200, res.body);
    return res.json<{ access_token: string }>().access_token;
  };
  const atOrders = async (token: string, url = '/orders') =>
    (await orders.inject({ method: 'GET', url, headers: { authorization: `Bearer ${token}` } })).statusCode;
  const atInventory = async (app: ReturnType<typeof createInventoryApp>, token: string) =>
    (await app.app.request('/items', { headers: { authorization: `Bearer ${token}` } })).status;

  before(async () => {
    stores = await createTestStores();
    const config = withTestTemplate(
      loadConfig({
        GATEHOUSE_ENV: 'development',
        GATEHOUSE_ISSUER: ISSUER,
        GATEHOUSE_DATABASE_URL: stores.databaseUrl,
        GATEHOUSE_REDIS_KEY_PREFIX: stores.redisKeyPrefix,
        ...(stores.redisUrl === undefined ? {} : { GATEHOUSE_REDIS_URL: stores.redisUrl }),
      }),
    );
    orders = await buildOrdersApi({
      gatehouse: { config, signingKeys: [await generateSigningJwk()], resources: [{ identifier: INVENTORY, scopes: ['profile'] }] },
    });
    await orders.listen({ port: 0, host: '127.0.0.1' });
    jwksUri = `http://127.0.0.1:${(orders.server.address() as AddressInfo).port}/identity/.well-known/jwks.json`;
    inventory = createInventoryApp({ issuer: ISSUER, audience: INVENTORY, jwksUri });
    lenientInventory = createInventoryApp({ issuer: ISSUER, audience: [INVENTORY, ...config.audience], jwksUri });

    const deps = { tenants: servicesOf(orders).tenants, revocations: servicesOf(orders).revocations, scopes: servicesOf(orders).scopes, now: Date.now };
    await createTenant(deps, { userId: null, context: NO_AUDIT_CONTEXT }, { slug: 'acme' });
    const res = await orders.inject({ method: 'POST', url: '/identity/auth/register', payload: { username: 'alice', password: PASSWORD } });
    assert.equal(res.statusCode, 201, res.body);
    const id = res.json<{ id: string }>().id;
    await addMember(deps, { userId: null, context: NO_AUDIT_CONTEXT }, 'acme', id);
    await changeMemberRole(deps, { userId: null, context: NO_AUDIT_CONTEXT }, 'acme', id, 'customer', true);
  });
  after(async () => {
    await inventory?.verifier.close();
    await lenientInventory?.verifier.close();
    await orders?.close();
    await stores?.cleanup();
  });

  test('malicious: a token for orders opens orders and is refused by inventory (401)', async () => {
    const token = await login(ORDERS_RESOURCE);
    assert.equal(decodeJwt(token).aud, ORDERS_RESOURCE);
    assert.equal(await atOrders(token), 200);
    assert.equal(await atInventory(inventory, token), 401);
    assert.equal(await atInventory(lenientInventory, token), 401);
  });

  test('malicious: a token for inventory opens inventory and is refused by orders (401, not 403)', async () => {
    const token = await login(INVENTORY);
    assert.equal(decodeJwt(token).scope, 'profile');
    assert.equal(await atInventory(inventory, token), 200);
    assert.equal(await atOrders(token), 401);
  });

  test("malicious: a token for either service is refused by Gatehouse's own /identity/me", async () => {
    assert.equal(await atOrders(await login(ORDERS_RESOURCE), '/identity/me'), 401);
    assert.equal(await atOrders(await login(INVENTORY), '/identity/me'), 401);
  });

  test('a token without resource (the default audience) opens neither service, unless one is configured to accept it; it opens /identity/me', async () => {
    const token = await login();
    assert.deepEqual(decodeJwt(token).aud, ISSUER);
    assert.equal(await atOrders(token), 401);
    assert.equal(await atInventory(inventory, token), 401);
    assert.equal(await atInventory(lenientInventory, token), 200);
    assert.equal(await atOrders(token, '/identity/me'), 200);
  });
});
