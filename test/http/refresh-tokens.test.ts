import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { asc, eq } from 'drizzle-orm';
import type { LightMyRequestResponse } from 'fastify';
import { decodeJwt } from 'jose';
import { digestRefreshToken } from '../../src/sessions/refresh-token.js';
import { refreshTokens, sessions, users as usersTable } from '../../src/stores/db/schema.js';
import { bearer, startTestApp, TEST_PASSWORD, type TestApp, type TestAppOptions } from '../support/test-app.js';

const FORM = { 'content-type': 'application/x-www-form-urlencoded' };
const REFRESH_SHAPE = /^ghr_[A-Za-z0-9_-]{43}$/;
const FIREFOX_LINUX = 'Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0';
const OTHER_APP = { id: 'other-app', firstParty: true, grantTypes: ['password', 'refresh_token'] } as const;
const SECOND = 1000;

interface TokenBody {
  access_token: string;
  token_type: string;
  expires_in: number;
  scope: string;
  refresh_token: string;
}

function postForm(t: TestApp, params: Record<string, string>, headers: Record<string, string> = {}): Promise<LightMyRequestResponse> {
  return t.inject({ method: 'POST', url: '/auth/token', headers: { ...FORM, ...headers }, payload: new URLSearchParams(params).toString() });
}

/** RFC 6749 §6 over the form endpoint. */
function refreshForm(t: TestApp, refreshToken: string, extra: Record<string, string> = {}): Promise<LightMyRequestResponse> {
  return postForm(t, { grant_type: 'refresh_token', refresh_token: refreshToken, ...extra });
}

/** The JSON twin, POST /auth/refresh. */
function refreshJson(t: TestApp, refreshToken: string): Promise<LightMyRequestResponse> {
  return t.inject({ method: 'POST', url: '/auth/refresh', payload: { refresh_token: refreshToken } });
}

async function loginForm(t: TestApp, username: string, extra: Record<string, string> = {}, headers: Record<string, string> = {}): Promise<TokenBody> {
  return assertTokenResponse(await postForm(t, { grant_type: 'password', username, password: TEST_PASSWORD, ...extra }, headers));
}

function assertNoStore(res: LightMyRequestResponse): void {
  assert.equal(res.headers['cache-control'], 'no-store');
  assert.equal(res.headers.pragma, 'no-cache');
}

function assertTokenResponse(res: LightMyRequestResponse): TokenBody {
  assert.equal(res.statusCode, 200, res.body);
  assertNoStore(res);
  const body = res.json<TokenBody>();
  assert.equal(body.token_type, 'Bearer');
  assert.match(body.refresh_token, REFRESH_SHAPE);
  return body;
}

/** RFC 6749 §5.2, status 400; returns the raw body so callers can compare bodies byte for byte. */
function assertOAuthError(res: LightMyRequestResponse, error: string): string {
  assert.equal(res.statusCode, 400, res.body);
  assert.match(String(res.headers['content-type']), /^application\/json\b/);
  assertNoStore(res);
  const body = res.json<{ error: string; error_description: string }>();
  assert.deepEqual(Object.keys(body).sort(), ['error', 'error_description']);
  assert.equal(body.error, error);
  return res.body;
}

const sidOf = (accessToken: string): string => {
  const sid = decodeJwt(accessToken).sid;
  assert.equal(typeof sid, 'string');
  return sid as string;
};

async function tokenRows(t: TestApp, sessionId: string) {
  return t.services.database.db.select().from(refreshTokens).where(eq(refreshTokens.sessionId, sessionId)).orderBy(asc(refreshTokens.generation));
}

describe('refresh tokens (RFC 6749 §6, rotation per RFC 9700 §4.14.2)', () => {
  let t: TestApp;
  let users = 0;
  /** A fresh user per test, so one test's revocations cannot leak into another. */
  const freshUser = async (): Promise<string> => {
    const name = `rt-user-${++users}`;
    await t.register(name);
    return name;
  };

  before(async () => {
    // The race tests present one session's token 100 times at once, past REFRESH_SESSION's 60/1m by
    // design: what they pin is the rotation, so that limit is raised here (test/http/throttling.test.ts
    // covers it).
    t = await startTestApp({ env: { GATEHOUSE_LIMIT_REFRESH_SESSION: '1000/1m' }, overrides: { clients: [OTHER_APP] } });
  });
  after(() => t.close());

  describe('malicious cases', () => {
    test('a refresh token used as a Bearer access token on GET /me: 401 invalid_token', async () => {
      const { refresh_token } = await loginForm(t, await freshUser());
      const res = await t.inject({ method: 'GET', url: '/me', headers: bearer(refresh_token) });
      assert.equal(res.statusCode, 401, res.body);
      assert.match(String(res.headers['www-authenticate']), /error="invalid_token"/);
    });

    test('an access token presented as a refresh token: invalid_grant, same body as an unknown token, on both endpoints', async () => {
      // A signed access token is ~570 characters: longer than the body schema's 512, which must not
      // turn it into an invalid_request that tells the caller what it presented.
      const { access_token } = await loginForm(t, await freshUser());
      const unknown = assertOAuthError(await refreshForm(t, `ghr_${'D'.repeat(43)}`), 'invalid_grant');
      assert.equal(assertOAuthError(await refreshForm(t, access_token), 'invalid_grant'), unknown);
      assert.equal(assertOAuthError(await refreshJson(t, access_token), 'invalid_grant'), unknown);
    });

    test('reuse after rotation: invalid_grant, session revoked, successor dead, security event logged without tokens', async () => {
      const first = await loginForm(t, await freshUser());
      const sid = sidOf(first.access_token);
      const a = first.refresh_token;
      const b = assertTokenResponse(await refreshForm(t, a)).refresh_token;

      const reuse = await refreshForm(t, a);
      assertOAuthError(reuse, 'invalid_grant');

      const session = await t.services.sessions.find(sid);
      assert.ok(session !== undefined);
      assert.ok(session.revokedAt instanceof Date, 'session must be revoked on reuse');
      assert.equal(session.revokedReason, 'refresh_token_reuse');
      // The legitimate holder's successor dies with the family.
      assertOAuthError(await refreshForm(t, b), 'invalid_grant');
      assertOAuthError(await refreshJson(t, b), 'invalid_grant');

      const events = t.logs.records().filter((r) => r.security_event === 'refresh_token.reuse_detected');
      assert.equal(events.length, 1, 'exactly one reuse event for this family');
      assert.equal(events[0]?.session_id, sid);
      const log = t.logs.lines.join('\n');
      assert.ok(!log.includes(a), 'the reused token must not be logged');
      assert.ok(!log.includes(b), 'the successor token must not be logged');
      assert.ok(!log.includes(a.slice(4)) && !log.includes(b.slice(4)), 'not even without the prefix');
    });

    test('reuse over POST /auth/refresh revokes the session too', async () => {
      const first = await loginForm(t, await freshUser());
      const b = assertTokenResponse(await refreshJson(t, first.refresh_token)).refresh_token;
      assertOAuthError(await refreshJson(t, first.refresh_token), 'invalid_grant');
      assert.equal((await t.services.sessions.find(sidOf(first.access_token)))?.revokedReason, 'refresh_token_reuse');
      assertOAuthError(await refreshJson(t, b), 'invalid_grant');
    });

    for (const n of [20, 100]) {
      test(`${n} concurrent exchanges of one token: no 5xx, at most one 200, one successor in the database`, async () => {
        const { access_token, refresh_token } = await loginForm(t, await freshUser());
        const sid = sidOf(access_token);
        const responses = await Promise.all(Array.from({ length: n }, (_, i) => (i % 2 === 0 ? refreshForm(t, refresh_token) : refreshJson(t, refresh_token))));

        const statuses = responses.map((r) => r.statusCode);
        assert.ok(
          statuses.every((s) => s < 500),
          `5xx among ${statuses.join(',')}`,
        );
        const ok = responses.filter((r) => r.statusCode === 200);
        assert.ok(ok.length <= 1, `${ok.length} exchanges of one token succeeded`);
        for (const r of responses.filter((x) => x.statusCode !== 200)) assertOAuthError(r, 'invalid_grant');

        const rows = await tokenRows(t, sid);
        assert.deepEqual(
          rows.map((r) => r.generation),
          Array.from({ length: 1 + ok.length }, (_, g) => g),
          'generations must be exactly 0..k, no duplicates, one per successful exchange',
        );
        const issued = ok.map((r) => digestRefreshToken(r.json<TokenBody>().refresh_token));
        assert.deepEqual(
          rows.slice(1).map((r) => r.digest),
          issued,
          'the only successor is the one handed out',
        );
        assert.ok(
          rows.every((r) => r.spentAt !== null),
          'the original is spent; any successor died with the revoked family',
        );
        // Losers presented a spent token: that is reuse, and the family is gone.
        assert.equal((await t.services.sessions.find(sid))?.revokedReason, 'refresh_token_reuse');
      });
    }

    test("another client's refresh token: invalid_grant, and the token still works for its own client", async () => {
      const { refresh_token } = await loginForm(t, await freshUser());
      assertOAuthError(await refreshForm(t, refresh_token, { client_id: 'other-app' }), 'invalid_grant');
      assertTokenResponse(await refreshForm(t, refresh_token));
    });

    test('deleting the user kills its refresh token: invalid_grant', async () => {
      const name = await freshUser();
      const { access_token, refresh_token } = await loginForm(t, name);
      const deleted = await t.services.users.delete(decodeJwt(access_token).sub as string);
      assert.equal(deleted, true);
      assertOAuthError(await refreshForm(t, refresh_token), 'invalid_grant');
      assertOAuthError(await refreshJson(t, refresh_token), 'invalid_grant');
    });

    test('disabling the user kills its refresh token: invalid_grant', async () => {
      const { access_token, refresh_token } = await loginForm(t, await freshUser());
      await t.services.database.db
        .update(usersTable)
        .set({ disabledAt: new Date() })
        .where(eq(usersTable.id, decodeJwt(access_token).sub as string));
      assertOAuthError(await refreshForm(t, refresh_token), 'invalid_grant');
    });

    test('a refresh asking for a scope wider than the session: invalid_scope', async () => {
      // The only built-in scope is "profile"; a session logged in with an empty scope set holds nothing.
      const { refresh_token } = await loginForm(t, await freshUser(), { scope: '' });
      const res = await refreshForm(t, refresh_token, { scope: 'profile' });
      assertOAuthError(res, 'invalid_scope');
    });

    test('a refused wider-scope refresh does not spend the token (REGRESSION: rotation ran before the scope check)', async () => {
      const { access_token, refresh_token } = await loginForm(t, await freshUser(), { scope: '' });
      assertOAuthError(await refreshForm(t, refresh_token, { scope: 'profile' }), 'invalid_scope');
      // RFC 6749 §5.2: an error response grants nothing and must not consume the grant. If the
      // failed request rotated the token, this retry looks like reuse and revokes the session.
      assertTokenResponse(await refreshForm(t, refresh_token));
      assert.equal((await t.services.sessions.find(sidOf(access_token)))?.revokedAt, null);
    });
  });

  describe('identical invalid_grant for every dead token', () => {
    test('unknown, malformed, spent, revoked and foreign-client tokens answer the same body', async () => {
      const name = await freshUser();
      const live = await loginForm(t, name);
      const spent = live.refresh_token;
      const next = assertTokenResponse(await refreshForm(t, spent)).refresh_token;

      const revokedLogin = await loginForm(t, name);
      assert.equal(await t.services.sessions.revoke(sidOf(revokedLogin.access_token), 'logout', new Date()), true);

      const foreign = (await loginForm(t, name)).refresh_token;
      const unknown = `ghr_${'A'.repeat(43)}`;
      const cases: [string, () => Promise<LightMyRequestResponse>][] = [
        ['unknown', () => refreshForm(t, unknown)],
        ['an access token cut to a JWT header and payload', () => refreshForm(t, live.access_token.split('.').slice(0, 2).join('.').slice(0, 500))],
        ['42 characters after the prefix', () => refreshForm(t, `ghr_${'A'.repeat(42)}`)],
        ['44 characters after the prefix', () => refreshForm(t, `${next}A`)],
        ['wrong prefix', () => refreshForm(t, `ghx_${next.slice(4)}`)],
        ['revoked session', () => refreshForm(t, revokedLogin.refresh_token)],
        ['another client', () => refreshForm(t, foreign, { client_id: 'other-app' })],
        // Last: presenting a spent token revokes the family.
        ['spent', () => refreshForm(t, spent)],
        ['unknown over JSON', () => refreshJson(t, unknown)],
      ];
      const bodies = new Map<string, string>();
      for (const [label, run] of cases) bodies.set(label, assertOAuthError(await run(), 'invalid_grant'));
      const distinct = new Set(bodies.values());
      assert.equal(distinct.size, 1, `bodies differ: ${JSON.stringify(Object.fromEntries(bodies))}`);
    });

    test('an empty refresh_token is invalid_request, not invalid_grant', async () => {
      assertOAuthError(await refreshForm(t, ''), 'invalid_request');
    });

    test('garbage refresh tokens never cause a 5xx', async () => {
      const garbage = ['ghr_', 'ghr_' + '\u00e9'.repeat(43), 'ghr_' + '%00'.repeat(20), "ghr_' OR 1=1 --", 'x'.repeat(512), '\u0000'];
      for (const value of garbage) {
        const res = await refreshForm(t, value);
        assert.ok(res.statusCode === 400, `${JSON.stringify(value)}: ${res.statusCode} ${res.body}`);
        const json = await refreshJson(t, value);
        assert.ok(json.statusCode === 400, `${JSON.stringify(value)} (JSON): ${json.statusCode} ${json.body}`);
      }
    });
  });

  describe('issuance and rotation', () => {
    test('password grant and JSON login both return a ghr_ refresh token; the database holds only its SHA-256 digest', async () => {
      const name = await freshUser();
      const form = await loginForm(t, name);
      const jsonRes = await t.inject({ method: 'POST', url: '/auth/login', payload: { username: name, password: TEST_PASSWORD } });
      const json = assertTokenResponse(jsonRes);
      assert.notEqual(form.refresh_token, json.refresh_token);

      const tokenTable = JSON.stringify(await t.services.database.db.select().from(refreshTokens));
      const sessionTable = JSON.stringify(await t.services.database.db.select().from(sessions));
      for (const token of [form.refresh_token, json.refresh_token]) {
        const digest = digestRefreshToken(token);
        assert.match(digest, /^[0-9a-f]{64}$/);
        assert.ok(tokenTable.includes(digest), 'the digest is stored');
        for (const table of [tokenTable, sessionTable]) {
          assert.ok(!table.includes(token), 'the plaintext must not be stored');
          assert.ok(!table.includes(token.slice(4)), 'nor its random part');
        }
      }
    });

    test('form and JSON exchanges: a new refresh and access token each time, sid fixed to the session', async () => {
      const first = await loginForm(t, await freshUser());
      const sid = sidOf(first.access_token);
      assert.ok((await t.services.sessions.find(sid)) !== undefined, 'sid names the stored session');

      const second = assertTokenResponse(await refreshForm(t, first.refresh_token));
      const third = assertTokenResponse(await refreshJson(t, second.refresh_token));
      const tokens = [first, second, third];
      assert.equal(new Set(tokens.map((x) => x.refresh_token)).size, 3);
      assert.equal(new Set(tokens.map((x) => x.access_token)).size, 3);
      for (const x of tokens) assert.equal(sidOf(x.access_token), sid);
      assert.equal(decodeJwt(third.access_token).sub, decodeJwt(first.access_token).sub);

      const me = await t.inject({ method: 'GET', url: '/me', headers: bearer(third.access_token) });
      assert.equal(me.statusCode, 200, me.body);
      assert.deepEqual(
        (await tokenRows(t, sid)).map((r) => [r.generation, r.spentAt !== null]),
        [
          [0, true],
          [1, true],
          [2, false],
        ],
      );
    });

    test('a narrower scope: 200 with the narrower scope, and the session keeps its own scope', async () => {
      const name = await freshUser();
      const full = await loginForm(t, name);
      assert.equal(full.scope, 'profile');
      const narrower = assertTokenResponse(await refreshForm(t, full.refresh_token, { scope: '' }));
      // An empty scope parameter asks for nothing; "profile" is the only scope there is.
      assert.equal(narrower.scope, '');
      assert.equal(decodeJwt(narrower.access_token).scope ?? '', '');
      const again = assertTokenResponse(await refreshForm(t, narrower.refresh_token, { scope: 'profile' }));
      assert.equal(again.scope, 'profile', 'RFC 6749 §6: up to the originally granted scope');
    });

    test('the session row records client_id, a device label and the ip', async () => {
      const name = await freshUser();
      const cli = await loginForm(t, name, {}, { 'user-agent': FIREFOX_LINUX });
      const other = await loginForm(t, name, { client_id: 'other-app' }, { 'user-agent': 'curl/8.5.0' });
      const cliSession = await t.services.sessions.find(sidOf(cli.access_token));
      const otherSession = await t.services.sessions.find(sidOf(other.access_token));
      assert.equal(cliSession?.clientId, 'gatehouse-cli');
      assert.equal(cliSession.device, 'Firefox on Linux');
      assert.equal(cliSession.ip, '127.0.0.1');
      assert.equal(cliSession.userId, decodeJwt(cli.access_token).sub);
      assert.equal(otherSession?.clientId, 'other-app');
      assert.equal(otherSession.device, 'curl');
      // other-app's own token refreshes only with other-app.
      assertOAuthError(await refreshForm(t, other.refresh_token), 'invalid_grant');
      assertTokenResponse(await refreshForm(t, other.refresh_token, { client_id: 'other-app' }));
    });

    test('JSON login records the device too, and a hostile user agent is stored cleaned', async () => {
      const name = await freshUser();
      const res = await t.inject({
        method: 'POST',
        url: '/auth/login',
        headers: { 'user-agent': `evil\tagent ${'x'.repeat(500)}` },
        payload: { username: name, password: TEST_PASSWORD },
      });
      const session = await t.services.sessions.find(sidOf(assertTokenResponse(res).access_token));
      assert.ok(session !== undefined);
      assert.ok(session.device.length <= 64, session.device);
      assert.doesNotMatch(session.device, /\t/);
    });
  });
});

describe('session expiry (injected clock)', () => {
  const IDLE = 600;
  const ABSOLUTE = 3600;
  let clock = Date.parse('2030-01-01T00:00:00Z');
  let t: TestApp;
  let users = 0;
  const options: TestAppOptions = {
    env: { GATEHOUSE_SESSION_TTL: String(ABSOLUTE), GATEHOUSE_SESSION_IDLE_TTL: String(IDLE) },
    overrides: { now: () => clock },
  };
  const freshLogin = async (): Promise<TokenBody> => {
    const name = `exp-user-${++users}`;
    await t.register(name);
    return loginForm(t, name);
  };

  before(async () => {
    t = await startTestApp(options);
  });
  after(() => t.close());

  test('idle: unused for GATEHOUSE_SESSION_IDLE_TTL seconds → invalid_grant', async () => {
    const { refresh_token } = await freshLogin();
    clock += IDLE * SECOND;
    assertOAuthError(await refreshForm(t, refresh_token), 'invalid_grant');
  });

  test('idle: one second before the idle limit still works', async () => {
    const { refresh_token } = await freshLogin();
    clock += (IDLE - 1) * SECOND;
    assertTokenResponse(await refreshForm(t, refresh_token));
  });

  test('idle: each rotation within the window extends it', async () => {
    let { refresh_token } = await freshLogin();
    for (let i = 0; i < 4; i++) {
      clock += (IDLE - 100) * SECOND;
      refresh_token = assertTokenResponse(await refreshForm(t, refresh_token)).refresh_token;
    }
    // 2000 s after login, far past one idle window, yet alive because it was used.
    clock += IDLE * SECOND;
    assertOAuthError(await refreshForm(t, refresh_token), 'invalid_grant');
  });

  test('absolute: GATEHOUSE_SESSION_TTL after login → invalid_grant even though used moments ago', async () => {
    const login = await freshLogin();
    const sid = sidOf(login.access_token);
    let refresh_token = login.refresh_token;
    const start = clock;
    while (clock + (IDLE - 100) * SECOND < start + ABSOLUTE * SECOND) {
      clock += (IDLE - 100) * SECOND;
      refresh_token = assertTokenResponse(await refreshForm(t, refresh_token)).refresh_token;
    }
    const session = await t.services.sessions.find(sid);
    assert.equal(session?.expiresAt.getTime(), start + ABSOLUTE * SECOND);
    assert.ok(session.idleExpiresAt.getTime() <= session.expiresAt.getTime(), 'the idle window never outlives the session');
    clock = start + ABSOLUTE * SECOND;
    const expired = assertOAuthError(await refreshForm(t, refresh_token), 'invalid_grant');
    assert.equal(expired, assertOAuthError(await refreshForm(t, `ghr_${'C'.repeat(43)}`), 'invalid_grant'), 'same body as an unknown token');
    assertOAuthError(await refreshJson(t, refresh_token), 'invalid_grant');
  });

  test('expired tokens answer the same body as an unknown token', async () => {
    const idle = await freshLogin();
    const unknown = await refreshForm(t, `ghr_${'B'.repeat(43)}`);
    clock += IDLE * SECOND;
    assert.equal(assertOAuthError(await refreshForm(t, idle.refresh_token), 'invalid_grant'), assertOAuthError(unknown, 'invalid_grant'));
  });
});
