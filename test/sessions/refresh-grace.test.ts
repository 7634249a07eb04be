import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { asc, eq } from 'drizzle-orm';
import type { LightMyRequestResponse } from 'fastify';
import { decodeJwt } from 'jose';
import { loadConfig } from '../../src/config/config.js';
import { ConfigError } from '../../src/errors/errors.js';
import { digestRefreshToken, generateRefreshToken } from '../../src/sessions/refresh-token.js';
import { openSuccessor, sealSuccessor } from '../../src/sessions/successor-seal.js';
import { refreshTokens, sessions } from '../../src/stores/db/schema.js';
import { bearer, startTestApp, TEST_PASSWORD, type TestApp } from '../support/test-app.js';

/**
 * The opt-in refresh grace window (GATEHOUSE_REFRESH_GRACE_SECONDS) over HTTP, with an injected
 * clock. Within the window the same client repeating its just-spent token gets the same successor;
 * everything else is still reuse and revokes the session.
 */

const FORM = { 'content-type': 'application/x-www-form-urlencoded' };
const OTHER_APP = { id: 'other-app', firstParty: true, grantTypes: ['password', 'refresh_token'] } as const;
const GRACE_SECONDS = 5;
const GRACE_MS = GRACE_SECONDS * 1000;

interface TokenBody {
  access_token: string;
  refresh_token: string;
  scope: string;
}

function refreshForm(t: TestApp, refreshToken: string, extra: Record<string, string> = {}): Promise<LightMyRequestResponse> {
  return t.inject({
    method: 'POST',
    url: '/auth/token',
    headers: FORM,
    payload: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: refreshToken, ...extra }).toString(),
  });
}

function refreshJson(t: TestApp, refreshToken: string): Promise<LightMyRequestResponse> {
  return t.inject({ method: 'POST', url: '/auth/refresh', payload: { refresh_token: refreshToken } });
}

function ok(res: LightMyRequestResponse): TokenBody {
  assert.equal(res.statusCode, 200, res.body);
  return res.json<TokenBody>();
}

function invalidGrant(res: LightMyRequestResponse): void {
  assert.equal(res.statusCode, 400, res.body);
  assert.equal(res.json<{ error: string }>().error, 'invalid_grant');
}

const sidOf = (accessToken: string): string => String(decodeJwt(accessToken).sid);

async function tokenRows(t: TestApp, sessionId: string) {
  return t.services.database.db.select().from(refreshTokens).where(eq(refreshTokens.sessionId, sessionId)).orderBy(asc(refreshTokens.generation));
}

const events = (t: TestApp, name: string, sid: string) => t.logs.records().filter((r) => r.security_event === name && r.session_id === sid);

describe('refresh grace window (GATEHOUSE_REFRESH_GRACE_SECONDS=5)', () => {
  let clock = Date.parse('2030-03-01T00:00:00Z');
  let t: TestApp;
  let users = 0;

  /** A fresh user and session per test; returns the login and its session id. */
  const freshLogin = async (extra: Record<string, string> = {}): Promise<TokenBody & { sid: string }> => {
    const name = `grace-user-${++users}`;
    await t.register(name);
    const res = await t.inject({
      method: 'POST',
      url: '/auth/token',
      headers: FORM,
      payload: new URLSearchParams({ grant_type: 'password', username: name, password: TEST_PASSWORD, ...extra }).toString(),
    });
    const body = ok(res);
    return { ...body, sid: sidOf(body.access_token) };
  };

  const assertRevoked = async (sid: string, ...deadTokens: string[]): Promise<void> => {
    assert.equal((await t.services.sessions.find(sid))?.revokedReason, 'refresh_token_reuse', 'the session must be revoked as reuse');
    for (const token of deadTokens) invalidGrant(await refreshForm(t, token));
    assert.equal(events(t, 'refresh_token.reuse_detected', sid).length, 1, 'one reuse event');
  };

  before(async () => {
    t = await startTestApp({ env: { GATEHOUSE_REFRESH_GRACE_SECONDS: String(GRACE_SECONDS) }, overrides: { now: () => clock, clients: [OTHER_APP] } });
  });
  after(() => t.close());

  describe('malicious cases', () => {
    test('a repeat at the end of the window (5 s after the spend) is reuse: session revoked, successor dead', async () => {
      const { refresh_token: a, sid } = await freshLogin();
      const b = ok(await refreshForm(t, a)).refresh_token;
      clock += GRACE_MS;
      invalidGrant(await refreshForm(t, a));
      await assertRevoked(sid, b);
    });

    test('a repeat long after the window is reuse', async () => {
      const { refresh_token: a, sid } = await freshLogin();
      const b = ok(await refreshForm(t, a)).refresh_token;
      clock += 60 * GRACE_MS;
      invalidGrant(await refreshJson(t, a));
      await assertRevoked(sid, b);
    });

    test('a repeat within the window from another client is reuse', async () => {
      const { refresh_token: a, sid } = await freshLogin();
      const b = ok(await refreshForm(t, a)).refresh_token;
      clock += 1000;
      invalidGrant(await refreshForm(t, a, { client_id: 'other-app' }));
      await assertRevoked(sid, b);
    });

    test('a repeat within the window after the successor was itself used is reuse', async () => {
      const { refresh_token: a, sid } = await freshLogin();
      const b = ok(await refreshForm(t, a)).refresh_token;
      const c = ok(await refreshForm(t, b)).refresh_token;
      clock += 1000;
      invalidGrant(await refreshForm(t, a));
      await assertRevoked(sid, c);
    });

    test('a repeat within the window asking for more scope than the session holds is reuse', async () => {
      // Logged in with no scope: "profile" is more than the session holds, so this cannot be a retry.
      const { refresh_token: a, sid } = await freshLogin({ scope: '' });
      const b = ok(await refreshForm(t, a)).refresh_token;
      invalidGrant(await refreshForm(t, a, { scope: 'profile' }));
      await assertRevoked(sid, b);
    });

    test('a seal that opens to anything but the stored successor is reuse (database tampered with)', async () => {
      const { refresh_token: a, sid } = await freshLogin();
      const b = ok(await refreshForm(t, a)).refresh_token;
      // Someone who can write the database and knows `a` plants a token of their choosing.
      await t.services.database.db
        .update(refreshTokens)
        .set({ successorSealed: sealSuccessor(a, generateRefreshToken()) })
        .where(eq(refreshTokens.digest, digestRefreshToken(a)));
      invalidGrant(await refreshForm(t, a));
      await assertRevoked(sid, b);
    });

    test('a seal that does not open with the presented token is reuse', async () => {
      const { refresh_token: a, sid } = await freshLogin();
      const b = ok(await refreshForm(t, a)).refresh_token;
      await t.services.database.db
        .update(refreshTokens)
        .set({ successorSealed: sealSuccessor(generateRefreshToken(), b) })
        .where(eq(refreshTokens.digest, digestRefreshToken(a)));
      invalidGrant(await refreshForm(t, a));
      await assertRevoked(sid, b);
    });

    test('a repeat within the window after logout gets nothing', async () => {
      const { refresh_token: a, sid } = await freshLogin();
      const b = ok(await refreshForm(t, a)).refresh_token;
      assert.equal(await t.services.sessions.revoke(sid, 'logout', new Date(clock)), true);
      invalidGrant(await refreshForm(t, a));
      invalidGrant(await refreshForm(t, b));
    });

    test('the database never holds the successor in plaintext: only its digest, and a seal the digest cannot open', async () => {
      const { refresh_token: a, sid } = await freshLogin();
      const b = ok(await refreshForm(t, a)).refresh_token;
      const tokenTable = JSON.stringify(await t.services.database.db.select().from(refreshTokens));
      const sessionTable = JSON.stringify(await t.services.database.db.select().from(sessions));
      for (const table of [tokenTable, sessionTable]) {
        for (const token of [a, b]) {
          assert.ok(!table.includes(token), 'no plaintext token');
          assert.ok(!table.includes(token.slice(4)), 'nor its random part');
        }
      }
      const [spent, successor] = await tokenRows(t, sid);
      assert.equal(spent?.digest, digestRefreshToken(a));
      assert.equal(successor?.digest, digestRefreshToken(b));
      assert.match(spent.successorSealed ?? '', /^gs1\./, 'the spent row carries the seal');
      assert.equal(successor.successorSealed, null, 'an unspent token has no seal');
      // What a database reader has (every digest) does not open it; the spent token does.
      for (const row of [spent, successor]) assert.equal(openSuccessor(row.digest, spent.successorSealed ?? ''), undefined);
      assert.equal(openSuccessor(a, spent.successorSealed ?? ''), b);
    });
  });

  test('a repeat within the window (a client retrying a lost response) gets the same successor and a new access token', async () => {
    const { refresh_token: a, sid } = await freshLogin();
    const first = ok(await refreshForm(t, a));
    clock += GRACE_MS - 1;
    const retry = ok(await refreshJson(t, a));
    assert.equal(retry.refresh_token, first.refresh_token);
    assert.notEqual(retry.access_token, first.access_token);
    assert.equal(sidOf(retry.access_token), sid);
    const me = await t.inject({ method: 'GET', url: '/me', headers: bearer(retry.access_token) });
    assert.equal(me.statusCode, 200, me.body);
    assert.equal((await t.services.sessions.find(sid))?.revokedAt, null);
    assert.deepEqual(
      (await tokenRows(t, sid)).map((r) => [r.generation, r.spentAt !== null]),
      [
        [0, true],
        [1, false],
      ],
    );
    assert.equal(events(t, 'refresh_token.replayed_in_grace', sid).length, 1, 'the replay is logged');
    // The successor then rotates as usual, and the family goes on.
    const next = ok(await refreshForm(t, retry.refresh_token));
    assert.notEqual(next.refresh_token, a);
    assert.deepEqual(
      (await tokenRows(t, sid)).map((r) => r.generation),
      [0, 1, 2],
    );
  });

  test('20 concurrent exchanges of one token: all succeed with the identical successor, one successor stored, no revocation', async () => {
    const { refresh_token: a, sid } = await freshLogin();
    const responses = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 === 0 ? refreshForm(t, a) : refreshJson(t, a))));
    const statuses = responses.map((r) => r.statusCode);
    assert.ok(
      statuses.every((s) => s === 200),
      statuses.join(','),
    );
    const successors = new Set(responses.map((r) => r.json<TokenBody>().refresh_token));
    assert.equal(successors.size, 1, 'never two distinct successors');
    const rows = await tokenRows(t, sid);
    assert.deepEqual(
      rows.map((r) => r.generation),
      [0, 1],
    );
    assert.equal(rows[1]?.digest, digestRefreshToken([...successors][0] ?? ''));
    assert.equal((await t.services.sessions.find(sid))?.revokedAt, null);
    assert.equal(events(t, 'refresh_token.reuse_detected', sid).length, 0);
    assert.equal(events(t, 'refresh_token.replayed_in_grace', sid).length, 19);
    const log = t.logs.lines.join('\n');
    assert.ok(!log.includes(a.slice(4)) && !log.includes([...successors][0]?.slice(4) ?? 'x'), 'no token in the log');
  });
});

describe('refresh grace window off (default 0): strict as before', () => {
  let t: TestApp;
  before(async () => {
    t = await startTestApp();
  });
  after(() => t.close());

  test('an immediate repeat of a spent token revokes the session, and no seal is stored', async () => {
    assert.equal(t.services.config.refreshGraceSeconds, 0);
    assert.equal(t.services.sessionPolicy.graceMs, 0);
    await t.register('strict-user');
    const login = ok(await t.inject({ method: 'POST', url: '/auth/login', payload: { username: 'strict-user', password: TEST_PASSWORD } }));
    const sid = sidOf(login.access_token);
    const b = ok(await refreshForm(t, login.refresh_token)).refresh_token;
    assert.ok(
      (await tokenRows(t, sid)).every((r) => r.successorSealed === null),
      'strict mode stores no seal',
    );
    invalidGrant(await refreshForm(t, login.refresh_token));
    assert.equal((await t.services.sessions.find(sid))?.revokedReason, 'refresh_token_reuse');
    invalidGrant(await refreshForm(t, b));
  });

  test('20 concurrent exchanges: at most one success, the rest revoke the family', async () => {
    await t.register('strict-user-2');
    const login = ok(await t.inject({ method: 'POST', url: '/auth/login', payload: { username: 'strict-user-2', password: TEST_PASSWORD } }));
    const responses = await Promise.all(Array.from({ length: 20 }, () => refreshForm(t, login.refresh_token)));
    assert.ok(responses.filter((r) => r.statusCode === 200).length <= 1);
    assert.equal((await t.services.sessions.find(sidOf(login.access_token)))?.revokedReason, 'refresh_token_reuse');
  });
});

describe('GATEHOUSE_REFRESH_GRACE_SECONDS', () => {
  const DEV = { GATEHOUSE_ENV: 'development' };

  test('unset or empty: 0 (strict); 0 to 60 accepted', () => {
    assert.equal(loadConfig(DEV).refreshGraceSeconds, 0);
    assert.equal(loadConfig({ ...DEV, GATEHOUSE_REFRESH_GRACE_SECONDS: '' }).refreshGraceSeconds, 0);
    for (const value of [0, 1, 5, 60]) assert.equal(loadConfig({ ...DEV, GATEHOUSE_REFRESH_GRACE_SECONDS: String(value) }).refreshGraceSeconds, value);
  });

  for (const [value, message] of [
    ['61', /at most 60/],
    ['-1', /0 to 60/],
    ['2.5', /whole number/],
    ['abc', /whole number/],
    ['3600', /at most 60/],
  ] as const) {
    test(`${value}: one problem line naming the variable`, () => {
      let problems: readonly string[] = [];
      try {
        loadConfig({ ...DEV, GATEHOUSE_REFRESH_GRACE_SECONDS: value });
        assert.fail('accepted');
      } catch (error) {
        assert.ok(error instanceof ConfigError);
        problems = error.problems;
      }
      assert.equal(problems.length, 1, problems.join('\n'));
      assert.ok(problems[0]?.startsWith('GATEHOUSE_REFRESH_GRACE_SECONDS: '), problems[0]);
      assert.match(problems[0] ?? '', message);
    });
  }
});
