import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import Fastify, { type FastifyInstance } from 'fastify';
import { bearer, startTestApp, type TestApp } from '../support/test-app.js';

/**
 * Issue 15: what a host may import is what the `exports` maps list, and it is reviewed here. A name
 * added to either index fails this test until someone decides it belongs to the public API.
 * Imported by package name, as a host does, so the `exports` maps are what is exercised.
 */
const GATEHOUSE_EXPORTS = [
  'AUTHENTICATED',
  'CLOSE_CODES',
  'ErrorCodes',
  'ForbiddenError',
  'GatehouseError',
  'InvalidTokenError',
  'NotFoundError',
  'PUBLIC',
  'ValidationError',
  'allOf',
  'anyOf',
  'authorize',
  'definePolicy',
  'enforcePolicy',
  'gatehouse',
  'gatehouseServerOptions',
  'gatehouseSocket',
  'guardResource',
  'holdsRole',
  'loadConfig',
  'ownedByCaller',
  'principalOf',
  'sameTenant',
  'sendGatehouseError',
  'startupFailureLine',
];

const VERIFY_EXPORTS = [
  'ACR_VALUES',
  'ALGORITHMS',
  'assuranceLevelOf',
  'InvalidTokenError',
  'KeysUnavailableError',
  'RevocationsStaleError',
  'VerificationError',
  'createVerifier',
  'importJwks',
  'redisRevocationFeed',
  'remoteKeySource',
  'staticKeySource',
];

const specifier = (name: string): string => name; // not a literal: keeps tsc from resolving the self-reference

describe('the public surface: exactly the reviewed names', () => {
  test("the 'gatehouse' package exports the reviewed list, no services, app builder or stores", async () => {
    const names = Object.keys(await import(specifier('gatehouse'))).sort();
    assert.deepEqual(names, [...GATEHOUSE_EXPORTS].sort());
  });

  test("'@gatehouse/verify' exports what a resource server uses, none of the server's internals", async () => {
    const names = Object.keys(await import('@gatehouse/verify')).sort();
    assert.deepEqual(names, [...VERIFY_EXPORTS].sort());
  });

  test('malicious: a deep import of an unlisted module is refused by the exports map', async () => {
    await assert.rejects(import(specifier('gatehouse/src/services.js')), (e: NodeJS.ErrnoException) => e.code === 'ERR_PACKAGE_PATH_NOT_EXPORTED');
    await assert.rejects(
      import(specifier('@gatehouse/verify/src/access-token-verifier.js')),
      (e: NodeJS.ErrnoException) => e.code === 'ERR_PACKAGE_PATH_NOT_EXPORTED',
    );
  });
});

describe('app.gatehouse: the narrow facade, not the service object', () => {
  let t: TestApp;
  let host: FastifyInstance;
  before(async () => {
    t = await startTestApp();
    host = Fastify({ logger: false });
    const { gatehouse } = await import('../../src/index.js');
    await host.register(gatehouse, { services: t.services });
    await host.ready();
  });
  after(async () => {
    await host?.close();
    await t?.close();
  });

  test('it has exactly authenticate, revokeSession and findUser', () => {
    assert.deepEqual(Object.keys(host.gatehouse).sort(), ['authenticate', 'findUser', 'revokeSession']);
  });

  test('authenticate restores the principal; revokeSession ends its session; findUser leaks no hash', async () => {
    const { id } = await t.register('carol');
    const token = (await t.login('carol')).access_token;
    const principal = await host.gatehouse.authenticate(token);
    assert.equal(principal.subject, id);
    assert.equal(principal.via, 'bearer');
    const user = await host.gatehouse.findUser(id);
    assert.equal(user?.username, 'carol');
    assert.doesNotMatch(JSON.stringify(user), /\$argon2|passwordHash/);
    assert.equal(await host.gatehouse.findUser('00000000-0000-4000-8000-000000000000'), undefined);
    assert.equal(await host.gatehouse.revokeSession(principal.sessionId!), true);
    await assert.rejects(host.gatehouse.authenticate(token), (e: { code?: string }) => e.code === 'ERR_INVALID_TOKEN');
    const me = await t.app.inject({ method: 'GET', url: '/me', headers: bearer(token) });
    assert.equal(me.statusCode, 401);
  });
});
