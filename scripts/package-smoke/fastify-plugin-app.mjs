// Smoke (a), run with plain node in a fresh project that installed the gatehouse tarball: a JavaScript
// ESM Fastify app mounts the plugin under /identity and guards one route of its own.
import assert from 'node:assert/strict';
import Fastify from 'fastify';
import { AUTHENTICATED, gatehouse } from 'gatehouse';

const app = Fastify({ logger: false });
await app.register(gatehouse, { prefix: '/identity' });
app.get('/hello', { config: { auth: AUTHENTICATED } }, async () => ({ hello: 'world' }));
await app.listen({ port: 0, host: '127.0.0.1' });
const base = `http://127.0.0.1:${app.server.address().port}`;
const post = (path, body) => fetch(`${base}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

try {
  const credentials = { username: 'plugin-user', password: 'correct horse battery staple' };
  assert.equal((await post('/identity/auth/register', credentials)).status, 201);
  const login = await post('/identity/auth/login', credentials);
  assert.equal(login.status, 200);
  const { access_token: token } = await login.json();

  const anonymous = await fetch(`${base}/hello`);
  assert.equal(anonymous.status, 401, 'the guarded route without a token');
  const signedIn = await fetch(`${base}/hello`, { headers: { authorization: `Bearer ${token}` } });
  assert.equal(signedIn.status, 200, 'the guarded route with a token');
  assert.deepEqual(await signedIn.json(), { hello: 'world' });
  console.log('fastify plugin app: 401 without a token, 200 with one');
} finally {
  await app.close();
}
