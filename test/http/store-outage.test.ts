import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { bearer, startTestApp, TEST_PASSWORD, type TestApp } from '../support/test-app.js';

/** The database goes away under a running app: clients get 503, never 500, and no values leak. */
describe('database outage', () => {
  let t: TestApp;
  let token: string;
  before(async () => {
    t = await startTestApp();
    await t.register('outage');
    token = (await t.login('outage')).access_token;
    await t.services.database.close();
  });
  after(() => t.close());

  test('the JSON login answers 503 ERR_STORE_UNAVAILABLE', async () => {
    const res = await t.inject({ method: 'POST', url: '/auth/login', payload: { username: 'outage', password: TEST_PASSWORD } });
    assert.equal(res.statusCode, 503, res.body);
    assert.equal(res.headers['content-type'], 'application/problem+json; charset=utf-8');
    assert.equal(res.json().code, 'ERR_STORE_UNAVAILABLE');
    assert.equal(res.headers['retry-after'], '1');
  });

  test('the token endpoint answers 503 temporarily_unavailable', async () => {
    const res = await t.inject({
      method: 'POST',
      url: '/auth/token',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: new URLSearchParams({ grant_type: 'password', username: 'outage', password: TEST_PASSWORD }).toString(),
    });
    assert.equal(res.statusCode, 503, res.body);
    assert.equal(res.json().error, 'temporarily_unavailable');
    assert.equal(res.headers['cache-control'], 'no-store');
    assert.equal(res.headers['retry-after'], '1');
  });

  test('registration answers 503 and the log carries no password hash', async () => {
    const res = await t.inject({ method: 'POST', url: '/auth/register', payload: { username: 'outage2', password: TEST_PASSWORD } });
    assert.equal(res.statusCode, 503, res.body);
    assert.equal(res.headers['retry-after'], '1');
    assert.ok(!t.logs.lines.some((l) => l.includes('$argon2id$')), 'a hash reached the log');
  });

  test('/readyz turns 503', async () => {
    const res = await t.inject({ url: '/readyz' });
    assert.equal(res.statusCode, 503);
    assert.equal(res.json().checks.database, 'unavailable');
  });

  test('a protected route whose user lookup fails answers 503, not 401 or 500', async () => {
    // /me was never called before the outage, so the user is not in the guard's cache.
    const res = await t.inject({ url: '/me', headers: bearer(token) });
    assert.equal(res.statusCode, 503, res.body);
    assert.equal(res.json().code, 'ERR_STORE_UNAVAILABLE');
    assert.equal(res.headers['retry-after'], '1');
  });
});
