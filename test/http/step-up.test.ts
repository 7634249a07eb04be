import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { decodeJwt } from 'jose';
import { principalOf } from '../../src/index.js';
import { bearer, startTestApp, TEST_PASSWORD, type TestApp } from '../support/test-app.js';

const COOKIE = '__Host-gatehouse_session';
const AAL2_FRESH = { aal: 2, maxAge: 300 } as const;

function sensitiveRoutes(app: FastifyInstance): void {
  app.get('/sensitive', { config: { auth: { schemes: ['bearer', 'session'], authentication: AAL2_FRESH } } }, async (request) => ({
    amr: principalOf(request).authentication?.methods,
  }));
  app.get('/sensitive-page', { config: { auth: { schemes: ['session'], page: true, authentication: AAL2_FRESH } } }, async () => 'the sensitive page');
}

/**
 * Step-up (RFC 9470) at the server: tokens and cookie sessions carry how and when the user
 * authenticated; a route declaring `authentication` refuses the rest with the challenge, a page
 * sends them to the second-factor prompt; a refresh never makes an old authentication new.
 */
describe('step-up: authentication level and age on routes', () => {
  let t: TestApp;
  let clock = Date.now();
  const ids: Record<string, string> = {};

  before(async () => {
    t = await startTestApp({ overrides: { now: () => clock }, extraRoutes: sensitiveRoutes });
    for (const name of ['alice', 'bob', 'carol']) ids[name] = (await t.register(name)).id;
  });
  after(() => t.close());

  const passwordLogin = async (username: string) => {
    const res = await t.inject({
      method: 'POST',
      url: '/auth/token',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: new URLSearchParams({ grant_type: 'password', username, password: TEST_PASSWORD }).toString(),
    });
    assert.equal(res.statusCode, 200, res.body);
    return res.json<{ access_token: string; refresh_token: string }>();
  };
  const refresh = async (refreshToken: string) => {
    const res = await t.inject({
      method: 'POST',
      url: '/auth/token',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: refreshToken }).toString(),
    });
    assert.equal(res.statusCode, 200, res.body);
    return res.json<{ access_token: string; refresh_token: string }>();
  };
  const secondFactorAt = (sessionId: string, at: number) =>
    t.services.sessions.recordAuthentication(sessionId, { methods: ['pwd', 'otp'], time: Math.floor(at / 1000) }, new Date(at));
  const challengeOf = (res: LightMyRequestResponse) => String(res.headers['www-authenticate']);

  test('malicious: a password-only token on an AAL2 route is 401 with the RFC 9470 challenge', async () => {
    const { access_token } = await passwordLogin('alice');
    const res = await t.inject({ method: 'GET', url: '/sensitive', headers: bearer(access_token) });
    assert.equal(res.statusCode, 401);
    assert.equal(res.json<{ code: string }>().code, 'ERR_STEP_UP_REQUIRED');
    assert.equal(challengeOf(res), 'Bearer realm="gatehouse", error="insufficient_user_authentication", acr_values="urn:gatehouse:aal2", max_age=300');
    assert.ok(
      t.logs.lines.some((line) => line.includes('authentication level 1 below 2')),
      'the log says which check refused',
    );
  });

  test('malicious: elevation expires — a refresh after max_age keeps the old auth_time and is refused', async () => {
    const login = await passwordLogin('bob');
    const sid = String(decodeJwt(login.access_token).sid);
    assert.equal(await secondFactorAt(sid, clock), true);
    const elevated = await refresh(login.refresh_token);
    const claims = decodeJwt(elevated.access_token);
    assert.deepEqual(claims.amr, ['pwd', 'otp']);
    assert.equal(claims.acr, 'urn:gatehouse:aal2');
    assert.equal((await t.inject({ method: 'GET', url: '/sensitive', headers: bearer(elevated.access_token) })).statusCode, 200);

    clock += 301_000;
    const later = await refresh(elevated.refresh_token);
    assert.equal(decodeJwt(later.access_token).auth_time, claims.auth_time, 'a refresh never moves auth_time');
    assert.ok((decodeJwt(later.access_token).iat ?? 0) > (claims.auth_time as number) + 300);
    const res = await t.inject({ method: 'GET', url: '/sensitive', headers: bearer(later.access_token) });
    assert.equal(res.statusCode, 401);
    assert.match(challengeOf(res), /insufficient_user_authentication/);
  });

  test('malicious: a revoked session cannot be stepped up', async () => {
    const login = await passwordLogin('carol');
    const sid = String(decodeJwt(login.access_token).sid);
    assert.equal((await t.inject({ method: 'POST', url: '/auth/logout', headers: bearer(login.access_token) })).statusCode, 204);
    assert.equal(await secondFactorAt(sid, clock), false);
    const row = await t.services.sessions.find(sid);
    assert.deepEqual(row?.authMethods, ['pwd']);
  });

  test('cookie sessions: a page sends a one-factor session to the second-factor prompt; the API answers 401', async () => {
    const signIn = await t.inject({
      method: 'POST',
      url: '/auth/session',
      headers: { 'sec-fetch-site': 'same-origin' },
      payload: { username: 'alice', password: TEST_PASSWORD },
    });
    assert.equal(signIn.statusCode, 200, signIn.body);
    const value = new RegExp(`^${COOKIE}=([^;]*);`).exec(String(signIn.headers['set-cookie']))?.[1] ?? '';
    const cookie = { cookie: `${COOKIE}=${value}` };
    const page = await t.inject({ method: 'GET', url: '/sensitive-page', headers: cookie });
    assert.equal(page.statusCode, 303);
    assert.equal(page.headers.location, '/login/second-factor?return_to=%2Fsensitive-page');
    assert.equal((await t.inject({ method: 'GET', url: '/sensitive', headers: cookie })).statusCode, 401);

    // Stepped up in the store, as another instance would: this instance's cached row is older than
    // the step-up, and one fresh read lets the session through.
    assert.equal(await secondFactorAt(value.split('.')[0]!, clock), true);
    const after = await t.inject({ method: 'GET', url: '/sensitive', headers: cookie });
    assert.equal(after.statusCode, 200, after.body);
    assert.deepEqual(after.json(), { amr: ['pwd', 'otp'] });
    assert.equal((await t.inject({ method: 'GET', url: '/sensitive-page', headers: cookie })).statusCode, 200);

    clock += 301_000;
    assert.equal((await t.inject({ method: 'GET', url: '/sensitive-page', headers: cookie })).statusCode, 303, 'elevation expires for cookies too');
  });
});
