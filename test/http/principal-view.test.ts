import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import Fastify, { type FastifyInstance } from 'fastify';
import { AUTHENTICATED, gatehouse, principalOf, type Principal } from '../../src/index.js';
import { bearer, startTestApp, type TestApp } from '../support/test-app.js';

/**
 * Regression (issue 15): `principalOf(request).user` was the stored user record, argon2id hash
 * included, and a host's naive "who am I" route sent it to the client.
 */
describe('a principal holds no credential: a host route returning it whole leaks no hash', () => {
  let t: TestApp;
  let host: FastifyInstance;
  let token: string;
  before(async () => {
    t = await startTestApp();
    host = Fastify({ logger: false });
    await host.register(gatehouse, { services: t.services });
    host.get('/whoami', { config: { auth: AUTHENTICATED } }, async (request) => principalOf(request));
    host.get('/whoami/fresh', { config: { auth: { fresh: true } } }, async (request) => principalOf(request));
    host.get('/whoami/keys', { config: { auth: AUTHENTICATED } }, async (request) => ({ keys: Object.keys(principalOf(request).user) }));
    await host.ready();
    await t.register('alice');
    token = (await t.login('alice')).access_token;
  });
  after(async () => {
    await host?.close();
    await t?.close();
  });

  for (const url of ['/whoami', '/whoami/fresh']) {
    test(`malicious: GET ${url} serialises the principal without passwordHash or any $argon2 string`, async () => {
      const res = await host.inject({ method: 'GET', url, headers: bearer(token) });
      assert.equal(res.statusCode, 200, res.body);
      assert.doesNotMatch(res.body, /\$argon2/);
      assert.doesNotMatch(res.body, /passwordHash|password_hash/i);
      assert.equal(res.json<{ user: { username: string } }>().user.username, 'alice');
    });
  }

  test('the user view carries exactly the listed fields at run time (nothing smuggled through a spread)', async () => {
    const res = await host.inject({ method: 'GET', url: '/whoami/keys', headers: bearer(token) });
    assert.deepEqual(res.json<{ keys: string[] }>().keys, ['id', 'username', 'email', 'emailVerified', 'roles', 'createdAt']);
  });

  test('the type has no passwordHash either', () => {
    const read = (principal: Principal): unknown =>
      // @ts-expect-error: a principal's user view has no password hash.
      principal.user.passwordHash;
    assert.equal(typeof read, 'function');
  });
});
