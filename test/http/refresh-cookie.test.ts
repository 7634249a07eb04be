import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { LightMyRequestResponse } from 'fastify';
import { decodeJwt } from 'jose';
import { refreshCookiePath } from '../../src/sessions/refresh-cookie.js';
import { bearer, startTestApp, TEST_ISSUER, TEST_PASSWORD, type TestApp } from '../support/test-app.js';

const SPA = { id: 'spa', firstParty: true, grantTypes: ['password', 'refresh_token'], refreshTokenCookie: true } as const;
const COOKIE = '__Secure-gatehouse_refresh';
const REFRESH_SHAPE = /^ghr_[A-Za-z0-9_-]{43}$/;
/** What a browser sends with a same-origin fetch. */
const SAME_ORIGIN = { 'sec-fetch-site': 'same-origin', origin: TEST_ISSUER };

/** The refresh cookie a response sets, and its attributes; fails when there is none. */
function setCookieOf(res: LightMyRequestResponse): { value: string; attributes: string[] } {
  const raw = res.headers['set-cookie'];
  const all = raw === undefined ? [] : Array.isArray(raw) ? raw : [raw];
  const mine = all.filter((c) => c.startsWith(`${COOKIE}=`));
  assert.equal(mine.length, 1, `one refresh Set-Cookie expected, got ${JSON.stringify(all)}`);
  const [pair, ...attributes] = mine[0]!.split('; ');
  return { value: pair!.slice(COOKIE.length + 1), attributes };
}

const cookieHeader = (value: string) => ({ cookie: `${COOKIE}=${value}` });

describe('refresh token in an HttpOnly cookie (client cookie mode)', () => {
  let t: TestApp;
  let users = 0;
  const freshUser = async (): Promise<string> => {
    const name = `cookie-user-${++users}`;
    await t.register(name);
    return name;
  };
  /** JSON login as the cookie-mode client; returns the cookie value and the access token. */
  const signIn = async (): Promise<{ cookie: string; accessToken: string }> => {
    const res = await t.inject({ method: 'POST', url: '/auth/login', payload: { username: await freshUser(), password: TEST_PASSWORD, client_id: SPA.id } });
    assert.equal(res.statusCode, 200, res.body);
    return { cookie: setCookieOf(res).value, accessToken: res.json<{ access_token: string }>().access_token };
  };
  const refresh = (headers: Record<string, string>, payload: Record<string, string> = { client_id: SPA.id }) =>
    t.inject({ method: 'POST', url: '/auth/refresh', headers, payload });
  const sessionOf = (accessToken: string) => t.services.sessions.find(decodeJwt(accessToken).sid as string);

  before(async () => {
    t = await startTestApp({ overrides: { clients: [SPA] } });
  });
  after(() => t.close());

  describe('malicious cases', () => {
    for (const [name, headers] of [
      ['Sec-Fetch-Site: cross-site', { 'sec-fetch-site': 'cross-site', origin: 'https://evil.example' }],
      ['Sec-Fetch-Site: same-site (a sibling subdomain)', { 'sec-fetch-site': 'same-site', origin: 'https://blog.gatehouse.test' }],
      ['no Fetch Metadata, an untrusted Origin', { origin: 'https://evil.example' }],
      ['no Fetch Metadata, Origin: null', { origin: 'null' }],
      ['neither Fetch Metadata nor Origin nor Referer', {}],
    ] as const) {
      test(`a cross-site refresh with the cookie (${name}): 403, and the token is not spent`, async () => {
        const { cookie, accessToken } = await signIn();
        const refused = await refresh({ ...headers, ...cookieHeader(cookie) });
        assert.equal(refused.statusCode, 403, refused.body);
        assert.equal(refused.headers['set-cookie'], undefined);
        // Still the live token: it rotates once, and no reuse was detected.
        const ok = await refresh({ ...SAME_ORIGIN, ...cookieHeader(cookie) });
        assert.equal(ok.statusCode, 200, ok.body);
        assert.equal((await sessionOf(accessToken))?.revokedAt, null);
      });
    }

    test('a forged cookie: 400 invalid_grant, the same body as an unknown body token', async () => {
      const forged = await refresh({ ...SAME_ORIGIN, ...cookieHeader(`ghr_${'A'.repeat(43)}`) });
      const unknown = await t.inject({ method: 'POST', url: '/auth/refresh', payload: { refresh_token: `ghr_${'A'.repeat(43)}` } });
      assert.equal(forged.statusCode, 400);
      assert.equal(forged.json<{ error: string }>().error, 'invalid_grant');
      assert.equal(forged.body, unknown.body);
    });

    test('a duplicated cookie (a sibling planting a second one): 400 invalid_grant, neither copy spent', async () => {
      const { cookie, accessToken } = await signIn();
      const planted = `ghr_${'B'.repeat(43)}`;
      for (const header of [`${COOKIE}=${planted}; ${COOKIE}=${cookie}`, `${COOKIE}=${cookie}; ${COOKIE}=${cookie}`]) {
        const res = await refresh({ ...SAME_ORIGIN, cookie: header });
        assert.equal(res.statusCode, 400, res.body);
        assert.equal(res.json<{ error: string }>().error, 'invalid_grant');
      }
      // Two Cookie headers (HTTP/2 splits them) count as one list.
      const split = await t.inject({
        method: 'POST',
        url: '/auth/refresh',
        headers: { ...SAME_ORIGIN, cookie: [`${COOKIE}=${planted}`, `${COOKIE}=${cookie}`] },
        payload: { client_id: SPA.id },
      });
      assert.equal(split.statusCode, 400, split.body);
      assert.equal((await refresh({ ...SAME_ORIGIN, ...cookieHeader(cookie) })).statusCode, 200);
      assert.equal((await sessionOf(accessToken))?.revokedAt, null);
    });

    test('the cookie and a body token together: 400 invalid_request, nothing spent', async () => {
      const { cookie } = await signIn();
      const res = await refresh({ ...SAME_ORIGIN, ...cookieHeader(cookie) }, { client_id: SPA.id, refresh_token: cookie });
      assert.equal(res.statusCode, 400, res.body);
      assert.equal(res.json<{ error: string }>().error, 'invalid_request');
      assert.equal((await refresh({ ...SAME_ORIGIN, ...cookieHeader(cookie) })).statusCode, 200);
    });

    test('the cookie on a client without the mode is not read: 400 invalid_request, the token is not spent', async () => {
      const { cookie } = await signIn();
      for (const payload of [{}, { client_id: 'gatehouse-cli' }]) {
        const res = await refresh({ ...SAME_ORIGIN, ...cookieHeader(cookie) }, payload);
        assert.equal(res.statusCode, 400, res.body);
        assert.equal(res.json<{ error: string }>().error, 'invalid_request');
      }
      assert.equal((await refresh({ ...SAME_ORIGIN, ...cookieHeader(cookie) })).statusCode, 200);
    });

    test('the spent cookie presented again: reuse detection as before (invalid_grant, the session revoked)', async () => {
      const { cookie, accessToken } = await signIn();
      const rotated = await refresh({ ...SAME_ORIGIN, ...cookieHeader(cookie) });
      assert.equal(rotated.statusCode, 200, rotated.body);
      const replay = await refresh({ ...SAME_ORIGIN, ...cookieHeader(cookie) });
      assert.equal(replay.statusCode, 400);
      assert.equal(replay.json<{ error: string }>().error, 'invalid_grant');
      assert.equal((await sessionOf(accessToken))?.revokedReason, 'refresh_token_reuse');
    });

    test('no refresh token at all: 400 invalid_request', async () => {
      const res = await refresh(SAME_ORIGIN);
      assert.equal(res.statusCode, 400, res.body);
      assert.equal(res.json<{ error: string }>().error, 'invalid_request');
    });
  });

  test('login sets the cookie (Secure, HttpOnly, SameSite=Strict, Path=/auth/refresh) and leaves the token out of the body', async () => {
    const res = await t.inject({ method: 'POST', url: '/auth/login', payload: { username: await freshUser(), password: TEST_PASSWORD, client_id: SPA.id } });
    assert.equal(res.statusCode, 200, res.body);
    assert.equal(res.json<Record<string, unknown>>().refresh_token, undefined);
    const { value, attributes } = setCookieOf(res);
    assert.match(value, REFRESH_SHAPE);
    assert.deepEqual(attributes.filter((a) => !a.startsWith('Max-Age=')).sort(), ['HttpOnly', 'Path=/auth/refresh', 'SameSite=Strict', 'Secure']);
    assert.ok(attributes.includes(`Max-Age=${t.services.config.sessionTtlSeconds}`));
    assert.ok(!t.logs.lines.join('\n').includes(value), 'the token is not logged');
  });

  test('the token endpoint (password and refresh grants) sets the cookie for the client too', async () => {
    const form = { 'content-type': 'application/x-www-form-urlencoded' };
    const login = await t.inject({
      method: 'POST',
      url: '/auth/token',
      headers: form,
      payload: new URLSearchParams({ grant_type: 'password', username: await freshUser(), password: TEST_PASSWORD, client_id: SPA.id }).toString(),
    });
    assert.equal(login.statusCode, 200, login.body);
    assert.equal(login.json<Record<string, unknown>>().refresh_token, undefined);
    const first = setCookieOf(login).value;
    const rotated = await t.inject({
      method: 'POST',
      url: '/auth/token',
      headers: form,
      payload: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: first, client_id: SPA.id }).toString(),
    });
    assert.equal(rotated.statusCode, 200, rotated.body);
    assert.equal(rotated.json<Record<string, unknown>>().refresh_token, undefined);
    assert.notEqual(setCookieOf(rotated).value, first);
  });

  test('a same-origin refresh rotates: a new access token and a new cookie, no token in the body', async () => {
    const { cookie } = await signIn();
    const res = await refresh({ ...SAME_ORIGIN, ...cookieHeader(cookie) });
    assert.equal(res.statusCode, 200, res.body);
    const body = res.json<Record<string, unknown>>();
    assert.equal(body.refresh_token, undefined);
    assert.equal(typeof body.access_token, 'string');
    const next = setCookieOf(res).value;
    assert.match(next, REFRESH_SHAPE);
    assert.notEqual(next, cookie);
    // A browser without Fetch Metadata: the trusted Origin is enough.
    assert.equal((await refresh({ origin: TEST_ISSUER, ...cookieHeader(next) })).statusCode, 200);
  });

  test('logout and logout-all clear the cookie; the default client gets no Set-Cookie', async () => {
    for (const url of ['/auth/logout', '/auth/logout-all']) {
      const { cookie, accessToken } = await signIn();
      const res = await t.inject({ method: 'POST', url, headers: bearer(accessToken) });
      assert.equal(res.statusCode, 204, res.body);
      const cleared = setCookieOf(res);
      assert.equal(cleared.value, '');
      assert.ok(cleared.attributes.includes('Max-Age=0') && cleared.attributes.includes('Path=/auth/refresh'));
      assert.equal((await refresh({ ...SAME_ORIGIN, ...cookieHeader(cookie) })).statusCode, 400, 'the session is over');
    }
    const plain = await t.login(await freshUser());
    const res = await t.inject({ method: 'POST', url: '/auth/logout', headers: bearer(plain.access_token) });
    assert.equal(res.statusCode, 204);
    assert.equal(res.headers['set-cookie'], undefined);
  });

  test('clients without the mode are unchanged: the refresh token in the body, no Set-Cookie', async () => {
    const res = await t.inject({ method: 'POST', url: '/auth/login', payload: { username: await freshUser(), password: TEST_PASSWORD } });
    assert.equal(res.statusCode, 200, res.body);
    assert.match(res.json<{ refresh_token: string }>().refresh_token, REFRESH_SHAPE);
    assert.equal(res.headers['set-cookie'], undefined);
  });
});

describe('refresh cookie and the per-session refresh limit', () => {
  let t: TestApp;
  before(async () => {
    t = await startTestApp({ env: { GATEHOUSE_LIMIT_REFRESH_SESSION: '2/1m' }, overrides: { clients: [SPA] } });
  });
  after(() => t.close());

  test('malicious: a session rotating in a loop through the cookie is throttled like one presenting body tokens (429)', async () => {
    await t.register('cookie-looper');
    const login = await t.inject({ method: 'POST', url: '/auth/login', payload: { username: 'cookie-looper', password: TEST_PASSWORD, client_id: SPA.id } });
    let cookie = setCookieOf(login).value;
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++) {
      const res = await t.inject({
        method: 'POST',
        url: '/auth/refresh',
        headers: { ...SAME_ORIGIN, ...cookieHeader(cookie) },
        payload: { client_id: SPA.id },
      });
      statuses.push(res.statusCode);
      if (res.statusCode === 200) cookie = setCookieOf(res).value;
    }
    assert.deepEqual(statuses, [200, 200, 429]);
  });
});

test('the cookie path follows the issuer path (a host app mounting Gatehouse under a prefix)', () => {
  assert.equal(refreshCookiePath('https://gatehouse.test'), '/auth/refresh');
  assert.equal(refreshCookiePath('https://app.test/identity'), '/identity/auth/refresh');
  assert.equal(refreshCookiePath('https://app.test/identity/'), '/identity/auth/refresh');
});

describe('refresh cookie over a plain-http development issuer', () => {
  let t: TestApp;
  before(async () => {
    t = await startTestApp({ env: { GATEHOUSE_ISSUER: 'http://127.0.0.1:3000' }, overrides: { clients: [SPA] } });
  });
  after(() => t.close());

  test('named without a prefix and without Secure, as the session cookie is', async () => {
    await t.register('dev-cookie-user');
    const res = await t.inject({ method: 'POST', url: '/auth/login', payload: { username: 'dev-cookie-user', password: TEST_PASSWORD, client_id: SPA.id } });
    assert.equal(res.statusCode, 200, res.body);
    const raw = String(res.headers['set-cookie']);
    assert.match(raw, /^gatehouse_refresh=ghr_/);
    assert.doesNotMatch(raw, /Secure/);
    assert.match(raw, /HttpOnly/);
    const cookie = /^gatehouse_refresh=([^;]+)/.exec(raw)![1]!;
    const ok = await t.inject({
      method: 'POST',
      url: '/auth/refresh',
      headers: { 'sec-fetch-site': 'same-origin', cookie: `gatehouse_refresh=${cookie}` },
      payload: { client_id: SPA.id },
    });
    assert.equal(ok.statusCode, 200, ok.body);
  });
});
