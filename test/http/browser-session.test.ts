import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import type { LightMyRequestResponse } from 'fastify';
import { eq } from 'drizzle-orm';
import { auditEvents, sessions } from '../../src/stores/db/schema.js';
import { bearer, startTestApp, TEST_PASSWORD, type TestApp } from '../support/test-app.js';
import { testStoreProfile } from '../support/test-stores.js';

const COOKIE = '__Host-gatehouse_session';
const FORM = { 'content-type': 'application/x-www-form-urlencoded' };
const FIREFOX = 'Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0';

/** The cookie value a response set, from its one Set-Cookie header. */
function cookieOf(res: LightMyRequestResponse): string {
  const header = res.headers['set-cookie'];
  assert.equal(typeof header, 'string', 'exactly one Set-Cookie');
  const match = new RegExp(`^${COOKIE}=([^;]*);`).exec(String(header));
  assert.ok(match !== null, String(header));
  return match[1]!;
}

const withCookie = (value: string, name = COOKIE): Record<string, string> => ({ cookie: `${name}=${value}` });
/** What a browser sends on a request from the issuer's own page: the CSRF layers pass it. */
const SAME_ORIGIN = { 'sec-fetch-site': 'same-origin' } as const;

describe('browser sessions over HTTP (POST/DELETE /auth/session, the session scheme)', () => {
  let t: TestApp;
  let adminToken: string;
  const ids: Record<string, string> = {};

  const signIn = (username: string, extra: { password?: string; headers?: Record<string, string>; tenant?: string } = {}) =>
    t.inject({
      method: 'POST',
      url: '/auth/session',
      headers: { 'user-agent': FIREFOX, ...SAME_ORIGIN, ...extra.headers },
      payload: { username, password: extra.password ?? TEST_PASSWORD, ...(extra.tenant === undefined ? {} : { tenant: extra.tenant }) },
    });
  const signedIn = async (username: string): Promise<string> => {
    const res = await signIn(username);
    assert.equal(res.statusCode, 200, res.body);
    return cookieOf(res);
  };
  const me = (headers: Record<string, string>) => t.inject({ method: 'GET', url: '/me', headers });
  const meStatus = async (value: string) => (await me(withCookie(value))).statusCode;
  const admin = (method: 'POST' | 'PUT' | 'DELETE', url: string, payload?: object) =>
    t.inject({ method, url, headers: bearer(adminToken), ...(payload === undefined ? {} : { payload }) });
  const stored = async (id: string) => (await t.services.database.db.select().from(sessions).where(eq(sessions.id, id)))[0];
  const idOf = (value: string) => value.split('.')[0]!;

  before(async () => {
    t = await startTestApp({ env: { GATEHOUSE_LIMIT_LOGIN_USER_IP: '5/15m' } });
    for (const name of ['root', 'alice', 'bob', 'carol', 'dave', 'erin', 'frank', 'gina', 'hank', 'ivy', 'jack', 'kim', 'lena']) {
      ids[name] = (await t.register(`${name}-web`)).id;
    }
    await t.services.userDirectory.changeRole(ids.root!, { grant: 'admin' });
    adminToken = (await t.login('root-web')).access_token;
  });
  after(() => t.close());

  test('production (https issuer): __Host- cookie, Secure, HttpOnly, SameSite=Lax, Path=/, no Domain, Max-Age = the session lifetime', async () => {
    const res = await signIn('alice-web');
    assert.equal(res.statusCode, 200, res.body);
    const header = String(res.headers['set-cookie']);
    assert.match(header, /^__Host-gatehouse_session=[0-9a-f-]{36}\.[A-Za-z0-9_-]{43}; Max-Age=\d+; Path=\/; HttpOnly; Secure; SameSite=Lax$/);
    assert.doesNotMatch(header, /domain/i);
    const maxAge = Number(/Max-Age=(\d+)/.exec(header)![1]);
    assert.equal(maxAge, t.services.config.sessionTtlSeconds);
    const body = res.json();
    assert.deepEqual(Object.keys(body), ['session']);
    assert.equal(body.session.id, idOf(cookieOf(res)));
    assert.equal(Date.parse(body.session.expires_at), (await stored(body.session.id))!.expiresAt.getTime());
    assert.equal(res.headers['cache-control'], 'no-store');
    assert.ok(!res.body.includes(cookieOf(res).split('.')[1]!), 'the secret is only in the cookie');
  });

  test('only the digest of the secret is stored; the row is a cookie session without refresh tokens', async () => {
    const value = await signedIn('alice-web');
    const [id, secret] = value.split('.') as [string, string];
    const row = await stored(id);
    assert.equal(row?.kind, 'cookie');
    assert.equal(row.clientId, 'gatehouse-web');
    assert.equal(row.device, 'Firefox on Linux');
    assert.notEqual(row.cookieSecretDigest, secret);
    assert.match(String(row.cookieSecretDigest), /^[0-9a-f]{64}$/);
    assert.ok(!JSON.stringify(row).includes(secret));
  });

  test('JSON or an HTML form; a repeated form field or an unknown one is a 400', async () => {
    const form = await t.inject({
      method: 'POST',
      url: '/auth/session',
      headers: { ...FORM, ...SAME_ORIGIN },
      payload: `username=bob-web&password=${encodeURIComponent(TEST_PASSWORD)}`,
    });
    assert.equal(form.statusCode, 200, form.body);
    cookieOf(form);
    const repeated = await t.inject({
      method: 'POST',
      url: '/auth/session',
      headers: { ...FORM, ...SAME_ORIGIN },
      payload: `username=bob-web&username=alice-web&password=${encodeURIComponent(TEST_PASSWORD)}`,
    });
    assert.equal(repeated.statusCode, 400);
    const unknown = await t.inject({
      method: 'POST',
      url: '/auth/session',
      headers: SAME_ORIGIN,
      payload: { username: 'bob-web', password: TEST_PASSWORD, scope: 'admin:users' },
    });
    assert.equal(unknown.statusCode, 400);
    const text = await t.inject({ method: 'POST', url: '/auth/session', headers: { 'content-type': 'text/plain', ...SAME_ORIGIN }, payload: 'x' });
    assert.equal(text.statusCode, 415);
    for (const res of [repeated, unknown, text]) assert.equal(res.headers['set-cookie'], undefined);
  });

  test('malicious (login CSRF): another site cannot sign a browser in or out; a page of the issuer can', async () => {
    // Only the headers given: no same-origin default.
    const signInFrom = (headers: Record<string, string>) =>
      t.inject({ method: 'POST', url: '/auth/session', headers, payload: { username: 'bob-web', password: TEST_PASSWORD } });
    const before = (await t.services.database.db.select().from(sessions)).length;
    for (const headers of [
      { 'sec-fetch-site': 'cross-site' },
      { 'sec-fetch-site': 'same-site', origin: 'https://gatehouse.test' },
      { origin: 'https://evil.test' },
      { origin: 'https://gatehouse.test.evil.test' },
      { referer: 'https://evil.test/form' },
      {}, // neither Fetch Metadata nor Origin nor Referer: refused, not waved through
    ]) {
      const res = await signInFrom(headers);
      assert.equal(res.statusCode, 403, JSON.stringify(headers));
      assert.equal(res.json<{ code: string }>().code, 'ERR_CSRF');
      assert.equal(res.headers['set-cookie'], undefined);
    }
    assert.equal((await t.services.database.db.select().from(sessions)).length, before, 'no session was created');
    assert.equal((await signInFrom({ origin: 'https://gatehouse.test' })).statusCode, 200);
    const value = await signedIn('bob-web');
    const out = await t.inject({ method: 'DELETE', url: '/auth/session', headers: { ...withCookie(value), 'sec-fetch-site': 'cross-site' } });
    assert.equal(out.statusCode, 403);
    assert.equal(await meStatus(value), 200, 'a cross-site sign-out ends nothing');
  });

  test('malicious: a wrong password and an unknown user give identical answers and no cookie', async () => {
    const shape = (res: LightMyRequestResponse) => {
      const { request_id: _r, instance: _i, ...body } = res.json();
      return { status: res.statusCode, body, cookie: res.headers['set-cookie'] };
    };
    const wrong = shape(await signIn('carol-web', { password: 'not the password, sorry' }));
    const unknown = shape(await signIn('nobody-at-all-web'));
    assert.equal(wrong.status, 401);
    assert.deepEqual(unknown, wrong);
    assert.equal(wrong.cookie, undefined);
    const failed = await t.services.database.db.select().from(auditEvents).where(eq(auditEvents.event, 'login.failed'));
    assert.ok(failed.some((e) => e.reason === 'wrong_password' && e.subjectId === ids.carol));
    assert.ok(failed.some((e) => e.reason === 'unknown_user' && e.subjectId === null));
  });

  test('malicious (fixation): every sign-in gets a new id, and the cookie session the browser came with ends', async () => {
    const first = await signedIn('dave-web');
    const res = await signIn('dave-web', { headers: withCookie(first) });
    const second = cookieOf(res);
    assert.notEqual(idOf(second), idOf(first));
    assert.equal((await stored(idOf(first)))?.revokedReason, 'replaced_at_sign_in');
    assert.equal(await meStatus(first), 401);
    assert.equal(await meStatus(second), 200);
  });

  test('malicious: a cookie naming a session with the wrong secret ends nothing at sign-in or sign-out', async () => {
    const victim = await signedIn('erin-web');
    const forged = `${idOf(victim)}.${'A'.repeat(43)}`;
    assert.equal((await signIn('frank-web', { headers: withCookie(forged) })).statusCode, 200);
    assert.equal((await t.inject({ method: 'DELETE', url: '/auth/session', headers: { ...withCookie(forged), ...SAME_ORIGIN } })).statusCode, 204);
    assert.equal((await stored(idOf(victim)))?.revokedAt, null);
    assert.equal(await meStatus(victim), 200);
  });

  test('malicious: forged, malformed, duplicated and oversized cookies are the same 401 as none, never a 500', async () => {
    const good = await signedIn('gina-web');
    const none = await me({});
    assert.equal(none.statusCode, 401);
    const shape = (res: LightMyRequestResponse) => {
      const { request_id: _r, instance: _i, ...body } = res.json();
      return { status: res.statusCode, body, challenge: res.headers['www-authenticate'] };
    };
    const variants: Record<string, Record<string, string>> = {
      'wrong secret': withCookie(`${idOf(good)}.${good.slice(-43, -1)}${good.endsWith('A') ? 'B' : 'A'}`),
      'unknown session': withCookie(`${randomUUID()}.${good.split('.')[1]}`),
      'not our shape': withCookie('hello'),
      'percent-encoded spelling of a good value': withCookie(good.replace(/^(.)/, (c) => `%${c.charCodeAt(0).toString(16)}`)),
      'upper-case id': withCookie(good.toUpperCase()),
      duplicated: { cookie: `${COOKIE}=${good}; ${COOKIE}=${good}` },
      'duplicated across two headers': { cookie: [`${COOKIE}=${good}`, `${COOKIE}=${good}`] as unknown as string },
      oversized: withCookie(`${good}${'a'.repeat(300)}`),
      'the development name on an https issuer': withCookie(good, 'gatehouse_session'),
      'a refresh session id': withCookie(`${randomUUID()}.${'b'.repeat(43)}`),
    };
    for (const [label, headers] of Object.entries(variants)) {
      const res = await me(headers);
      assert.deepEqual(shape(res), shape(none), label);
    }
    assert.equal(await meStatus(good), 200, 'the good cookie still works');
    // Now the row is cached and its secret has matched once: a wrong secret is still refused.
    assert.deepEqual(shape(await me(variants['wrong secret']!)), shape(none), 'wrong secret against a cached row');
    assert.equal(await meStatus(good), 200, 'the good cookie works after that');
    // The client learns nothing; the log names the check that failed.
    const reasons = t.logs.records().map((r) => r.reason);
    for (const reason of ['session: wrong secret', 'session: unknown session', 'session: malformed cookie value']) {
      assert.ok(reasons.includes(reason), `${reason} in ${JSON.stringify([...new Set(reasons)])}`);
    }
    assert.ok(reasons.includes('session: duplicated or oversized cookie'));
    assert.ok(!t.logs.lines.some((l) => l.includes(good.split('.')[1]!)), 'never the secret in a log line');
  });

  test('the cookie alone authenticates /me, /me/sessions and /me/events; an Authorization header wins over it', async () => {
    const value = await signedIn('hank-web');
    const res = await me(withCookie(value));
    assert.equal(res.statusCode, 200, res.body);
    assert.equal(res.json().username, 'hank-web');
    const list = await t.inject({ method: 'GET', url: '/me/sessions', headers: withCookie(value) });
    assert.equal(list.statusCode, 200);
    const mine = list.json().find((s: { id: string }) => s.id === idOf(value));
    assert.deepEqual(
      { ...mine, created_at: undefined, last_used_at: undefined },
      { id: idOf(value), device: 'Firefox on Linux', current: true, created_at: undefined, last_used_at: undefined },
    );
    const events = await t.inject({ method: 'GET', url: '/me/events', headers: withCookie(value) });
    assert.equal(events.statusCode, 200);
    const created = events.json().events.find((e: { event: string }) => e.event === 'session.created');
    assert.ok(created !== undefined, 'session.created is in the trail');
    assert.equal(created.session_id ?? idOf(value), idOf(value));
    // "Sign out that device" with the cookie alone (a same-origin request, as the browser sends it).
    const other = await signedIn('hank-web');
    const signOutOther = await t.inject({
      method: 'DELETE',
      url: `/me/sessions/${idOf(other)}`,
      headers: { ...withCookie(value), 'sec-fetch-site': 'same-origin' },
    });
    assert.equal(signOutOther.statusCode, 204, signOutOther.body);
    assert.equal(await meStatus(other), 401);
    assert.equal(await meStatus(value), 200);
    // A bad bearer token with a good cookie: the header is used, and fails.
    assert.equal((await me({ ...withCookie(value), authorization: 'Bearer nope' })).statusCode, 401);
  });

  test('sign-out ends the session and clears the cookie; without a cookie it only clears', async () => {
    const value = await signedIn('ivy-web');
    const out = await t.inject({ method: 'DELETE', url: '/auth/session', headers: { ...withCookie(value), ...SAME_ORIGIN } });
    assert.equal(out.statusCode, 204);
    assert.equal(
      out.headers['set-cookie'],
      '__Host-gatehouse_session=; Max-Age=0; Path=/; Expires=Thu, 01 Jan 1970 00:00:00 GMT; HttpOnly; Secure; SameSite=Lax',
    );
    assert.equal((await stored(idOf(value)))?.revokedReason, 'sign_out');
    assert.equal(await meStatus(value), 401);
    const ended = await t.services.database.db
      .select()
      .from(auditEvents)
      .where(eq(auditEvents.sessionId, idOf(value)));
    assert.deepEqual(
      ended.map((e) => [e.event, e.reason]),
      [
        ['session.created', 'cookie'],
        ['session.ended', 'sign_out'],
      ],
    );
    const again = await t.inject({ method: 'DELETE', url: '/auth/session', headers: { ...withCookie(value), ...SAME_ORIGIN } });
    assert.equal(again.statusCode, 204, 'idempotent');
    const bare = await t.inject({ method: 'DELETE', url: '/auth/session', headers: SAME_ORIGIN });
    assert.equal(bare.statusCode, 204);
    assert.match(String(bare.headers['set-cookie']), /^__Host-gatehouse_session=; Max-Age=0;/);
  });

  describe('every revocation path ends cookie sessions', () => {
    const paths: [string, (user: string, value: string) => Promise<void>][] = [
      [
        'DELETE /me/sessions/:id (from a bearer session)',
        async (user, value) => {
          const token = (await t.login(user)).access_token;
          assert.equal((await t.inject({ method: 'DELETE', url: `/me/sessions/${idOf(value)}`, headers: bearer(token) })).statusCode, 204);
        },
      ],
      [
        'POST /auth/logout-all',
        async (user) => {
          const token = (await t.login(user)).access_token;
          assert.equal((await t.inject({ method: 'POST', url: '/auth/logout-all', headers: bearer(token) })).statusCode, 204);
        },
      ],
      [
        'POST /me/password from another session',
        async (user) => {
          const token = (await t.login(user)).access_token;
          const res = await t.inject({
            method: 'POST',
            url: '/me/password',
            headers: bearer(token),
            payload: { current_password: TEST_PASSWORD, new_password: `${TEST_PASSWORD} changed elsewhere` },
          });
          assert.equal(res.statusCode, 204, res.body);
        },
      ],
      ['admin disable', async (user) => assert.equal((await admin('POST', `/admin/users/${ids[user.replace('-web', '')]}/disable`)).statusCode, 200)],
      ['admin lock', async (user) => assert.equal((await admin('POST', `/admin/users/${ids[user.replace('-web', '')]}/lock`)).statusCode, 200)],
      ['admin logout', async (user) => assert.equal((await admin('POST', `/admin/users/${ids[user.replace('-web', '')]}/logout`)).statusCode, 204)],
      ['admin delete', async (user) => assert.equal((await admin('DELETE', `/admin/users/${ids[user.replace('-web', '')]}`)).statusCode, 204)],
    ];
    for (const [label, revoke] of paths) {
      test(label, async () => {
        const user = `rev-${label
          .replace(/[^a-z]/gi, '')
          .toLowerCase()
          .slice(0, 20)}-web`;
        ids[user.replace('-web', '')] = (await t.register(user)).id;
        const value = await signedIn(user);
        // Authenticate once first, so the row is in the in-process cache: the revocation must win over it.
        assert.equal(await meStatus(value), 200);
        await revoke(user, value);
        assert.equal(await meStatus(value), 401, label);
      });
    }

    test('tenant removal (the session is bound to the tenant)', async () => {
      assert.equal((await admin('POST', '/admin/tenants', { slug: 'webco', name: 'Web Co' })).statusCode, 201);
      assert.equal((await admin('PUT', `/admin/tenants/webco/members/${ids.jack}`)).statusCode, 200);
      const value = await signedIn('jack-web');
      assert.equal((await stored(idOf(value)))?.tenantId !== null, true, 'the only tenant is chosen as at a password login');
      assert.equal(await meStatus(value), 200);
      assert.equal((await admin('DELETE', `/admin/tenants/webco/members/${ids.jack}`)).statusCode, 204);
      assert.equal(await meStatus(value), 401);
    });

    test('password change from the cookie session itself keeps it and ends the others', async () => {
      const mine = await signedIn('kim-web');
      const other = await signedIn('kim-web');
      const change = (headers: Record<string, string>) =>
        t.inject({
          method: 'POST',
          url: '/me/password',
          headers: { ...withCookie(mine), ...headers },
          payload: { current_password: TEST_PASSWORD, new_password: `${TEST_PASSWORD} rotated for kim` },
        });
      // The CSRF layers run after the cookie (wired by the guard): cross-site, nothing changes.
      assert.equal((await change({ 'sec-fetch-site': 'cross-site' })).statusCode, 403);
      assert.equal(await meStatus(other), 200);
      const res = await change({ 'sec-fetch-site': 'same-origin' });
      assert.equal(res.statusCode, 204, res.body);
      assert.equal(await meStatus(mine), 200);
      assert.equal(await meStatus(other), 401);
    });
  });

  test('sign-in is throttled like /auth/login: past the limit even the right password gets 429', async () => {
    for (let i = 0; i < 5; i++) assert.equal((await signIn('lena-web', { password: `wrong guess ${i}` })).statusCode, 401);
    const res = await signIn('lena-web');
    assert.equal(res.statusCode, 429);
    assert.match(String(res.headers['retry-after']), /^[1-9][0-9]*$/);
    assert.equal(res.headers['set-cookie'], undefined);
  });
});

describe('browser sessions: development issuer, expiry, idle renewal, other instances', () => {
  test('plain-http development issuer: the cookie is gatehouse_session, without Secure', async () => {
    const t = await startTestApp({ env: { GATEHOUSE_ISSUER: 'http://127.0.0.1:3000' } });
    try {
      await t.register('dev-web');
      const res = await t.inject({ method: 'POST', url: '/auth/session', headers: SAME_ORIGIN, payload: { username: 'dev-web', password: TEST_PASSWORD } });
      assert.equal(res.statusCode, 200, res.body);
      const header = String(res.headers['set-cookie']);
      assert.match(header, /^gatehouse_session=[0-9a-f-]{36}\.[A-Za-z0-9_-]{43}; Max-Age=\d+; Path=\/; HttpOnly; SameSite=Lax$/);
      const value = /^gatehouse_session=([^;]+)/.exec(header)![1]!;
      assert.equal((await t.inject({ method: 'GET', url: '/me', headers: { cookie: `gatehouse_session=${value}` } })).statusCode, 200);
      assert.equal((await t.inject({ method: 'GET', url: '/me', headers: { cookie: `${COOKIE}=${value}` } })).statusCode, 401);
    } finally {
      await t.close();
    }
  });

  describe('with a controlled clock', () => {
    const MINUTE = 60_000;
    let clock = Date.parse('2030-06-01T00:00:00Z');
    let t: TestApp;
    before(async () => {
      t = await startTestApp({ env: { GATEHOUSE_SESSION_TTL: '7200', GATEHOUSE_SESSION_IDLE_TTL: '1800' }, overrides: { now: () => clock } });
      await t.register('clock-web');
    });
    after(() => t.close());

    const signedIn = async (): Promise<string> => {
      const res = await t.inject({ method: 'POST', url: '/auth/session', headers: SAME_ORIGIN, payload: { username: 'clock-web', password: TEST_PASSWORD } });
      assert.equal(res.statusCode, 200, res.body);
      return cookieOf(res);
    };
    const meStatus = async (value: string) => (await t.inject({ method: 'GET', url: '/me', headers: withCookie(value) })).statusCode;
    const lastUsed = async (value: string) =>
      (
        await t.services.database.db
          .select()
          .from(sessions)
          .where(eq(sessions.id, value.split('.')[0]!))
      )[0]!.lastUsedAt.getTime();

    test('the idle window is renewed at most once per 5 minutes, never on every request', async () => {
      const value = await signedIn();
      const start = clock;
      for (let i = 0; i < 4; i++) {
        clock += MINUTE;
        assert.equal(await meStatus(value), 200);
      }
      assert.equal(await lastUsed(value), start, 'no write within the first 5 minutes');
      clock += MINUTE;
      assert.equal(await meStatus(value), 200);
      assert.equal(await lastUsed(value), clock, 'renewed once 5 minutes have passed');
      const renewedAt = clock;
      clock += MINUTE;
      assert.equal(await meStatus(value), 200);
      assert.equal(await lastUsed(value), renewedAt);
    });

    test('idle expiry: 30 minutes without a request end the session; activity keeps it until the absolute expiry', async () => {
      const idle = await signedIn();
      const busy = await signedIn();
      const start = clock;
      while (clock < start + 29 * MINUTE) {
        clock += 6 * MINUTE;
        assert.equal(await meStatus(busy), 200);
      }
      clock = start + 31 * MINUTE;
      assert.equal(await meStatus(idle), 401, 'idle past its window');
      assert.equal(await meStatus(busy), 200);
      while (clock < start + 119 * MINUTE) {
        clock += 6 * MINUTE;
        if (clock < start + 120 * MINUTE) assert.equal(await meStatus(busy), 200);
      }
      clock = start + 120 * MINUTE;
      assert.equal(await meStatus(busy), 401, 'past the absolute expiry, however busy');
    });
  });

  // Only the real pass shares stores between instances (embedded: each has its own PGlite).
  if (testStoreProfile === 'real')
    test('malicious: a session row cached on another instance never outlives its sign-out there', async () => {
      const a = await startTestApp();
      const b = await startTestApp({ shareWith: a });
      try {
        await a.register('twin-web');
        const res = await a.inject({ method: 'POST', url: '/auth/session', headers: SAME_ORIGIN, payload: { username: 'twin-web', password: TEST_PASSWORD } });
        const value = cookieOf(res);
        assert.equal((await b.inject({ method: 'GET', url: '/me', headers: withCookie(value) })).statusCode, 200, 'b caches the row');
        assert.equal((await a.inject({ method: 'DELETE', url: '/auth/session', headers: { ...withCookie(value), ...SAME_ORIGIN } })).statusCode, 204);
        let status = 200;
        // The feed delivers within milliseconds; no timing is asserted, only that b refuses once it has.
        for (let i = 0; i < 100 && status === 200; i++) {
          status = (await b.inject({ method: 'GET', url: '/me', headers: withCookie(value) })).statusCode;
          if (status === 200) await new Promise((r) => setTimeout(r, 20));
        }
        assert.equal(status, 401);
      } finally {
        await b.close();
        await a.close();
      }
    });
});
