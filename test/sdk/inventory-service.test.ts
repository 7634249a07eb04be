import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { serve, type ServerType } from '@hono/node-server';
import { decodeJwt } from 'jose';
import { createInventoryApp } from '../../examples/inventory-service/src/app.js';
import { startListeningGatehouse, type ListeningGatehouse } from './support.js';

describe('examples/inventory-service trusts a real Gatehouse through the SDK', () => {
  let gatehouse: ListeningGatehouse;
  let server: ServerType;
  let base: string;

  before(async () => {
    gatehouse = await startListeningGatehouse();
    const { app } = createInventoryApp({ issuer: gatehouse.issuer, audience: gatehouse.audience, jwksUri: gatehouse.jwksUri });
    const port = await new Promise<number>((resolve) => {
      server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, (info) => resolve(info.port));
    });
    base = `http://127.0.0.1:${port}`;
  });
  after(async () => {
    await new Promise((r) => server.close(() => r(undefined)));
    await gatehouse.close();
  });

  test('a token from /auth/token reads the inventory; no token gets 401; a non-admin cannot add', async () => {
    const { access_token } = await gatehouse.login('inventory_alice');
    const auth = { authorization: `Bearer ${access_token}` };
    const res = await fetch(`${base}/items`, { headers: auth });
    assert.equal(res.status, 200);
    const body = (await res.json()) as { caller: string; items: unknown[] };
    assert.match(body.caller, /^[0-9a-f-]{36}$/);
    assert.equal(body.items.length, 1);

    const anonymous = await fetch(`${base}/items`);
    assert.equal(anonymous.status, 401);
    assert.equal(anonymous.headers.get('www-authenticate'), 'Bearer realm="api"');

    const add = await fetch(`${base}/items`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'nuts' }),
    });
    assert.equal(add.status, 403);
  });

  test('an admin (roles claim from Gatehouse) adds an item; the item names the caller', async () => {
    const id = decodeJwt((await gatehouse.login('inventory_admin')).access_token).sub as string;
    await gatehouse.gatehouse.services.userDirectory.changeRole(id, { grant: 'admin' });
    const { access_token } = await gatehouse.login('inventory_admin');
    const res = await fetch(`${base}/items`, {
      method: 'POST',
      headers: { authorization: `Bearer ${access_token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'washers' }),
    });
    assert.equal(res.status, 201);
    assert.equal(((await res.json()) as { owner: string }).owner, id);
  });
});
