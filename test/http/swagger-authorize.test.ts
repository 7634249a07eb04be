import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { bearer, startTestApp, TEST_PASSWORD, type TestApp } from '../support/test-app.js';

/**
 * Regression: Swagger UI's Authorize with client_id left empty sends `Authorization: Basic
 * base64(":")`; that was answered invalid_client ("unknown client_id"), so /docs could not log in.
 * Found by driving /docs in headless Chromium.
 */
describe('Swagger UI Authorize (password flow, empty client_id)', () => {
  let t: TestApp;
  before(async () => {
    t = await startTestApp();
    await t.register('swagger');
  });
  after(() => t.close());

  test('an empty Basic client is the default client, and the token reads /me', async () => {
    const res = await t.inject({
      method: 'POST',
      url: '/auth/token',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(':').toString('base64')}` },
      payload: new URLSearchParams({ grant_type: 'password', username: 'swagger', password: TEST_PASSWORD, scope: 'profile' }).toString(),
    });
    assert.equal(res.statusCode, 200, res.body);
    const me = await t.inject({ url: '/me', headers: bearer(res.json().access_token) });
    assert.equal(me.statusCode, 200);
  });

  test('an empty client id with a secret is still refused', async () => {
    const res = await t.inject({
      method: 'POST',
      url: '/auth/token',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(':secret').toString('base64')}` },
      payload: new URLSearchParams({ grant_type: 'password', username: 'swagger', password: TEST_PASSWORD }).toString(),
    });
    assert.equal(res.statusCode, 401);
    assert.equal(res.json().error, 'invalid_client');
  });

  test('the /me operation in the OpenAPI document carries the oauth2 requirement, so Swagger sends the token', async () => {
    const doc = (await t.inject({ url: '/openapi.json' })).json();
    // An API key and the session cookie are the other alternatives; Swagger sends the token.
    assert.deepEqual(doc.paths['/me'].get.security, [{ oauth2: ['profile'] }, { apiKey: [] }, { sessionCookie: [] }]);
    assert.equal(doc.paths['/auth/register'].post.security, undefined);
  });
});
