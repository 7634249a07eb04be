// Smoke (d), run with plain node in a fresh project that installed the @gatehouse/client tarball:
// the client signs in to a running Gatehouse server (GATEHOUSE_URL), reads /me, refreshes, signs out.
import assert from 'node:assert/strict';
import { GatehouseClient } from '@gatehouse/client';

const baseUrl = process.env.GATEHOUSE_URL;
assert.ok(baseUrl, 'GATEHOUSE_URL must name the running Gatehouse server');
const credentials = { username: 'client-user', password: 'correct horse battery staple' };
const registered = await fetch(`${baseUrl}/auth/register`, {
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify(credentials),
});
assert.equal(registered.status, 201);

const client = new GatehouseClient({ baseUrl });
await client.signIn(credentials);
assert.equal((await client.me()).username, 'client-user');
assert.equal(typeof (await client.refresh()), 'string', 'a refresh yields a new access token');
assert.equal((await client.me()).username, 'client-user');
await client.signOut();
assert.equal(client.signedIn, false);
client.close();
console.log('client: signed in, /me, refreshed, signed out');
