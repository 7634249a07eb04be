// Smoke (b), run with plain node in a fresh project that installed the @gatehouse/verify tarball: an
// Express service trusts a running Gatehouse server (GATEHOUSE_URL) through its JWKS.
import assert from 'node:assert/strict';
import express from 'express';
import { createVerifier } from '@gatehouse/verify';
import { gatehouse } from '@gatehouse/verify/express';

const issuer = process.env.GATEHOUSE_URL;
assert.ok(issuer, 'GATEHOUSE_URL must name the running Gatehouse server');
// Gatehouse's default audience is its issuer (GATEHOUSE_AUDIENCE unset).
const verifier = createVerifier({ issuer, audience: issuer, jwksUri: `${issuer}/.well-known/jwks.json` });

const app = express();
app.get('/stock', gatehouse(verifier), (req, res) => res.json({ subject: req.gatehouse.subject }));
const server = await new Promise((resolve) => {
  const s = app.listen(0, '127.0.0.1', () => resolve(s));
});
const base = `http://127.0.0.1:${server.address().port}`;

try {
  const credentials = { username: 'express-user', password: 'correct horse battery staple' };
  const post = (path, body) => fetch(`${issuer}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  assert.equal((await post('/auth/register', credentials)).status, 201);
  const login = await post('/auth/login', credentials);
  assert.equal(login.status, 200);
  const { access_token: token } = await login.json();

  assert.equal((await fetch(`${base}/stock`)).status, 401, 'the Express route without a token');
  const signedIn = await fetch(`${base}/stock`, { headers: { authorization: `Bearer ${token}` } });
  assert.equal(signedIn.status, 200, 'the Express route with a Gatehouse token');
  assert.equal(typeof (await signedIn.json()).subject, 'string');
  console.log('express service: 401 without a token, 200 with a token verified against the JWKS');
} finally {
  server.close();
}
