import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { LightMyRequestResponse } from 'fastify';
import { decodeJwt } from 'jose';
import { bearer, startTestApp, TEST_ISSUER, TEST_PASSWORD, type TestApp } from '../support/test-app.js';

// RFC 8707 resource indicators: one Gatehouse, several services, one audience per token.
const ORDERS = 'https://orders.test/api';
const INVENTORY = 'https://inventory.test/';
const FORM = { 'content-type': 'application/x-www-form-urlencoded' };

type TokenBody = { access_token: string; refresh_token: string; scope: string };

function postForm(t: TestApp, url: string, params: Record<string, string> | string): Promise<LightMyRequestResponse> {
  const payload = typeof params === 'string' ? params : new URLSearchParams(params).toString();
  return t.inject({ method: 'POST', url, headers: FORM, payload });
}

function assertInvalidTarget(res: LightMyRequestResponse): string {
  assert.equal(res.statusCode, 400, res.body);
  assert.equal(res.json<{ error: string }>().error, 'invalid_target', res.body);
  return res.body;
}

describe('resource indicators (RFC 8707) at the token endpoint', () => {
  let t: TestApp;
  const login = (extra: Record<string, string> = {}) =>
    postForm(t, '/auth/token', { grant_type: 'password', username: 'rosa', password: TEST_PASSWORD, ...extra });
  const refresh = (refreshToken: string, extra: Record<string, string> = {}) =>
    postForm(t, '/auth/token', { grant_type: 'refresh_token', refresh_token: refreshToken, ...extra });
  const tokens = async (res: Promise<LightMyRequestResponse>): Promise<TokenBody> => {
    const done = await res;
    assert.equal(done.statusCode, 200, done.body);
    return done.json<TokenBody>();
  };

  before(async () => {
    t = await startTestApp({
      overrides: {
        scopes: { 'orders:read': { description: 'read orders', roles: ['user'] }, 'inventory:read': { description: 'read stock', roles: ['user'] } },
        resources: [
          { identifier: ORDERS, scopes: ['orders:read'] },
          { identifier: INVENTORY, scopes: ['inventory:read', 'profile'] },
        ],
      },
    });
    await t.register('rosa');
  });
  after(() => t.close());

  test("malicious: a token minted for a resource server does not open Gatehouse's own API (401 invalid_token)", async () => {
    // INVENTORY defines `profile`, so only the audience stands between this token and /me.
    const { access_token, scope } = await tokens(login({ resource: INVENTORY }));
    assert.equal(decodeJwt(access_token).aud, INVENTORY);
    assert.equal(scope, 'inventory:read profile');
    const me = await t.inject({ method: 'GET', url: '/me', headers: bearer(access_token) });
    assert.equal(me.statusCode, 401, me.body);
    assert.match(String(me.headers['www-authenticate']), /error="invalid_token"/);
    const own = await tokens(login());
    assert.equal(decodeJwt(own.access_token).aud, TEST_ISSUER);
    assert.equal((await t.inject({ method: 'GET', url: '/me', headers: bearer(own.access_token) })).statusCode, 200);
  });

  test('a token for a resource carries that audience and only the scopes the resource defines', async () => {
    const { access_token, scope } = await tokens(login({ resource: ORDERS }));
    const claims = decodeJwt(access_token);
    assert.equal(claims.aud, ORDERS);
    assert.equal(scope, 'orders:read');
    assert.equal(claims.scope, 'orders:read');
  });

  test("malicious: scopes outside the resource are never granted: only outside ones is invalid_scope, a mix keeps the resource's", async () => {
    const outside = await login({ resource: ORDERS, scope: 'profile' });
    assert.equal(outside.statusCode, 400, outside.body);
    assert.equal(outside.json<{ error: string }>().error, 'invalid_scope');
    const mixed = await tokens(login({ resource: ORDERS, scope: 'profile orders:read' }));
    assert.equal(mixed.scope, 'orders:read');
    assert.equal(decodeJwt(mixed.access_token).scope, 'orders:read');
  });

  test('malicious: an unknown resource, one with a fragment, a relative or empty one, or two resources are invalid_target, with one body', async () => {
    const bodies = [
      assertInvalidTarget(await login({ resource: 'https://elsewhere.test/' })),
      assertInvalidTarget(await login({ resource: `${ORDERS}#fragment` })),
      assertInvalidTarget(await login({ resource: '/api' })),
      assertInvalidTarget(await login({ resource: '' })),
      // A near miss is unknown too: identifiers match exactly, no normalisation.
      assertInvalidTarget(await login({ resource: `${ORDERS}/` })),
      assertInvalidTarget(
        await postForm(
          t,
          '/auth/token',
          `grant_type=password&username=rosa&password=${encodeURIComponent(TEST_PASSWORD)}&resource=${encodeURIComponent(ORDERS)}&resource=${encodeURIComponent(INVENTORY)}`,
        ),
      ),
    ];
    assert.equal(new Set(bodies).size, 1, bodies.join('\n'));
    // One generic message: which check failed is for the log only.
    assert.doesNotMatch(bodies[0]!, /fragment|absolute|twice|elsewhere|orders/i);
  });

  test("a refresh without resource keeps the session's audience and scopes", async () => {
    const first = await tokens(login({ resource: ORDERS }));
    const next = await tokens(refresh(first.refresh_token));
    assert.equal(decodeJwt(next.access_token).aud, ORDERS);
    assert.equal(next.scope, 'orders:read');
    const same = await tokens(refresh(next.refresh_token, { resource: ORDERS }));
    assert.equal(decodeJwt(same.access_token).aud, ORDERS);
  });

  test('malicious: a refresh naming another resource (or naming one for a default session) is invalid_target, and the refresh token stays usable', async () => {
    const orders = await tokens(login({ resource: ORDERS }));
    assertInvalidTarget(await refresh(orders.refresh_token, { resource: INVENTORY }));
    const stillGood = await tokens(refresh(orders.refresh_token));
    assert.equal(decodeJwt(stillGood.access_token).aud, ORDERS);

    const plain = await tokens(login());
    assertInvalidTarget(await refresh(plain.refresh_token, { resource: INVENTORY }));
    const plainNext = await tokens(refresh(plain.refresh_token));
    assert.equal(decodeJwt(plainNext.access_token).aud, TEST_ISSUER);
  });

  test('malicious: a spent refresh token presented with another resource is still reuse: the session dies', async () => {
    const first = await tokens(login({ resource: ORDERS }));
    const second = await tokens(refresh(first.refresh_token));
    const replay = await refresh(first.refresh_token, { resource: INVENTORY });
    assert.equal(replay.statusCode, 400, replay.body);
    assert.equal(replay.json<{ error: string }>().error, 'invalid_grant');
    const afterReuse = await refresh(second.refresh_token);
    assert.equal(afterReuse.json<{ error: string }>().error, 'invalid_grant');
  });

  test('the JSON /auth/login and /auth/refresh take resource too', async () => {
    const res = await t.inject({ method: 'POST', url: '/auth/login', payload: { username: 'rosa', password: TEST_PASSWORD, resource: INVENTORY } });
    assert.equal(res.statusCode, 200, res.body);
    const body = res.json<TokenBody>();
    assert.equal(decodeJwt(body.access_token).aud, INVENTORY);
    const unknown = await t.inject({
      method: 'POST',
      url: '/auth/login',
      payload: { username: 'rosa', password: TEST_PASSWORD, resource: 'https://elsewhere.test/' },
    });
    assert.equal(unknown.statusCode, 400, unknown.body);
    assert.equal(unknown.json<{ code: string }>().code, 'ERR_OAUTH_INVALID_TARGET');
    const switched = await t.inject({ method: 'POST', url: '/auth/refresh', payload: { refresh_token: body.refresh_token, resource: ORDERS } });
    assert.equal(switched.json<{ error: string }>().error, 'invalid_target', switched.body);
    const refreshed = await t.inject({ method: 'POST', url: '/auth/refresh', payload: { refresh_token: body.refresh_token } });
    assert.equal(refreshed.statusCode, 200, refreshed.body);
    assert.equal(decodeJwt(refreshed.json<TokenBody>().access_token).aud, INVENTORY);
  });

  test('RFC 7009: a resource-bound access token is revoked (not ignored as unknown), and so is its session by refresh token', async () => {
    const issued = await tokens(login({ resource: ORDERS }));
    const revoked = await postForm(t, '/auth/revoke', { token: issued.access_token });
    assert.equal(revoked.statusCode, 200, revoked.body);
    const outcome = t.logs
      .records()
      .filter((r) => r.event === 'token.revocation')
      .at(-1)?.outcome;
    assert.equal(outcome, 'access_token_revoked');
    const claims = await t.services.issuedTokenVerifier.verify(issued.access_token);
    assert.throws(() => t.services.revocations.assertNotRevoked(claims), { code: 'ERR_INVALID_TOKEN' });

    assert.equal((await postForm(t, '/auth/revoke', { token: issued.refresh_token })).statusCode, 200);
    assert.equal((await refresh(issued.refresh_token)).json<{ error: string }>().error, 'invalid_grant');
  });

  test('RFC 8414 metadata stays as it was: no field for resources is invented', async () => {
    const res = await t.inject({ method: 'GET', url: '/.well-known/oauth-authorization-server' });
    assert.ok(!res.body.includes(ORDERS) && !res.body.includes(INVENTORY), res.body);
    assert.ok(!('resource' in res.json<object>()));
  });
});

describe('resource indicators: with no resource registered, nothing changes', () => {
  let t: TestApp;
  before(async () => {
    t = await startTestApp();
    await t.register('plain-paul');
  });
  after(() => t.close());

  test('a resource parameter names nothing known: invalid_target; without one the token is as before', async () => {
    assertInvalidTarget(await postForm(t, '/auth/token', { grant_type: 'password', username: 'plain-paul', password: TEST_PASSWORD, resource: ORDERS }));
    const { access_token } = await t.login('plain-paul');
    assert.equal(decodeJwt(access_token).aud, TEST_ISSUER);
    assert.equal(t.services.verifier, t.services.issuedTokenVerifier, 'one verifier, as before resource indicators');
  });
});

describe('a refresh for a resource whose scopes the user no longer holds', () => {
  const LEDGER = 'https://ledger.test/';
  let t: TestApp;
  before(async () => {
    t = await startTestApp({
      overrides: {
        scopes: { 'ledger:write': { description: 'write the ledger', roles: ['clerk'] } },
        resources: [{ identifier: LEDGER, scopes: ['ledger:write'] }],
      },
    });
  });
  after(() => t.close());

  test('is invalid_scope as at login, before the refresh token is spent (no empty-scope token)', async () => {
    const root = await t.register('ledger-root');
    await t.services.userDirectory.changeRole(root.id, { grant: 'admin' });
    const admin = bearer((await t.login('ledger-root')).access_token);
    const tess = await t.register('tess');
    // Through the admin API, which also drops the user from the cache the refresh reads.
    const role = async (grant: boolean) => {
      const res = grant
        ? await t.inject({ method: 'POST', url: `/admin/users/${tess.id}/roles`, headers: admin, payload: { role: 'clerk' } })
        : await t.inject({ method: 'DELETE', url: `/admin/users/${tess.id}/roles/clerk`, headers: admin });
      assert.ok(res.statusCode < 300, res.body);
    };
    await role(true);
    const login = await postForm(t, '/auth/token', { grant_type: 'password', username: 'tess', password: TEST_PASSWORD, resource: LEDGER });
    assert.equal(login.statusCode, 200, login.body);
    const { refresh_token } = login.json<TokenBody>();
    await role(false);
    const refused = await postForm(t, '/auth/token', { grant_type: 'refresh_token', refresh_token });
    assert.equal(refused.statusCode, 400, refused.body);
    assert.equal(refused.json<{ error: string }>().error, 'invalid_scope');
    await role(true);
    const again = await postForm(t, '/auth/token', { grant_type: 'refresh_token', refresh_token });
    assert.equal(again.statusCode, 200, `the refused refresh did not spend the token: ${again.body}`);
    assert.equal(again.json<TokenBody>().scope, 'ledger:write');
  });
});
