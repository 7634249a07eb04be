import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { bearer, startTestApp, type TestApp } from '../support/test-app.js';

describe('happy path: register, password grant, /me', () => {
  let t: TestApp;
  before(async () => {
    t = await startTestApp();
  });
  after(() => t.close());

  test('a registered user gets a token and reads /me with it', async () => {
    const user = await t.register('alice');
    const tokens = await t.login('alice');
    assert.equal(tokens.scope, 'profile');
    const me = await t.inject({ method: 'GET', url: '/me', headers: bearer(tokens.access_token) });
    assert.equal(me.statusCode, 200);
    assert.deepEqual(me.json(), { id: user.id, username: 'alice', email: null, email_verified: false, created_at: me.json().created_at, roles: [] });
  });
});
