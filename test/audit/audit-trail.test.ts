import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { sql } from 'drizzle-orm';
import type { StoredAuditRecord } from '../../src/audit/audit-event.js';
import { bearer, startTestApp, TEST_PASSWORD, type TestApp } from '../support/test-app.js';

const FORM = { 'content-type': 'application/x-www-form-urlencoded' };
const NEW_PASSWORD = 'a completely different passphrase';

async function rowsOf(t: TestApp, subjectId?: string): Promise<StoredAuditRecord[]> {
  return t.services.audit.list({ limit: 100, ...(subjectId === undefined ? {} : { subjectId }) });
}

async function allRowsAsText(t: TestApp): Promise<string> {
  const result = await t.services.database.db.execute(sql`SELECT * FROM audit_events`);
  return JSON.stringify((result as unknown as { rows: unknown[] }).rows);
}

function passwordGrant(t: TestApp, username: string, password: string) {
  return t.inject({
    method: 'POST',
    url: '/auth/token',
    headers: FORM,
    payload: new URLSearchParams({ grant_type: 'password', username, password }).toString(),
  });
}

describe('audit trail', () => {
  let t: TestApp;
  before(async () => {
    t = await startTestApp();
  });
  after(() => t.close());

  test('a failed login is recorded without the attempted username or password; an unknown user has no subject', async () => {
    const victim = await t.register('audit-victim');
    const typo = 'Tr0ub4dor&3-typed-into-username';
    assert.equal((await passwordGrant(t, 'audit-victim', 'wrong horse battery staple')).statusCode, 400);
    assert.equal((await passwordGrant(t, typo, TEST_PASSWORD)).statusCode, 400);

    const victimRows = await rowsOf(t, victim.id);
    const failed = victimRows.find((r) => r.event === 'login.failed');
    assert.ok(failed, 'failed login of an existing account is in its trail');
    assert.equal(failed.outcome, 'failure');
    assert.equal(failed.reason, 'wrong_password');

    const unknown = (await rowsOf(t)).find((r) => r.event === 'login.failed' && r.reason === 'unknown_user');
    assert.ok(unknown);
    assert.equal(unknown.subjectId, null);

    const everything = await allRowsAsText(t);
    assert.ok(!everything.includes(typo), 'the attempted username never reaches the trail');
    assert.ok(!everything.includes('wrong horse battery staple'));
    assert.ok(!everything.includes(TEST_PASSWORD));
  });

  test('each security event writes one row with actor, subject, session, ip, user agent and request id; never a token', async () => {
    const alice = await t.register('audit-alice');
    const login = await t.inject({
      method: 'POST',
      url: '/auth/token',
      headers: { ...FORM, 'user-agent': 'AuditAgent/1.0' },
      payload: new URLSearchParams({ grant_type: 'password', username: 'audit-alice', password: TEST_PASSWORD }).toString(),
    });
    assert.equal(login.statusCode, 200);
    const tokens = login.json() as { access_token: string; refresh_token: string };
    const refreshed = await t.inject({ method: 'POST', url: '/auth/refresh', payload: { refresh_token: tokens.refresh_token } });
    assert.equal(refreshed.statusCode, 200);
    const next = refreshed.json() as { access_token: string; refresh_token: string };
    await t.login('audit-alice');
    const listed = await t.inject({ method: 'GET', url: '/me/sessions', headers: bearer(next.access_token) });
    const other = (listed.json() as { id: string; current: boolean }[]).find((s) => !s.current);
    assert.ok(other);
    assert.equal((await t.inject({ method: 'DELETE', url: `/me/sessions/${other.id}`, headers: bearer(next.access_token) })).statusCode, 204);
    const pw = await t.inject({
      method: 'POST',
      url: '/me/password',
      headers: bearer(next.access_token),
      payload: { current_password: TEST_PASSWORD, new_password: NEW_PASSWORD },
    });
    assert.equal(pw.statusCode, 204);
    const third = await t.login('audit-alice', NEW_PASSWORD);
    assert.equal((await t.inject({ method: 'POST', url: '/auth/revoke', headers: FORM, payload: `token=${third.access_token}` })).statusCode, 200);
    assert.equal((await t.inject({ method: 'POST', url: '/auth/logout', headers: bearer(next.access_token) })).statusCode, 204);
    const fourth = await t.login('audit-alice', NEW_PASSWORD);
    assert.equal((await t.inject({ method: 'POST', url: '/auth/logout-all', headers: bearer(fourth.access_token) })).statusCode, 204);

    const rows = (await rowsOf(t, alice.id)).reverse();
    const events = rows.map((r) => r.event);
    assert.deepEqual(events, [
      'user.registered',
      'login.succeeded',
      'refresh.succeeded',
      'login.succeeded',
      'session.revoked',
      'user.password_changed',
      'login.succeeded',
      'token.revoked',
      'session.logout',
      'login.succeeded',
      'session.logout_all',
    ]);
    const firstLogin = rows[1]!;
    assert.equal(firstLogin.userAgent, 'AuditAgent/1.0');
    assert.equal(firstLogin.ip, '127.0.0.1');
    assert.equal(firstLogin.requestId, login.headers['x-request-id']);
    assert.equal(firstLogin.subjectId, alice.id);
    assert.match(String(firstLogin.sessionId), /^[0-9a-f-]{36}$/);
    assert.equal(rows[2]!.sessionId, firstLogin.sessionId, 'the refresh names the session it rotated');
    assert.equal(rows[4]!.sessionId, other.id);

    const everything = await allRowsAsText(t);
    for (const secret of [tokens.access_token, tokens.refresh_token, next.refresh_token, TEST_PASSWORD, NEW_PASSWORD]) {
      assert.ok(!everything.includes(secret), 'no token or password in the trail');
    }
  });

  test('refresh-token reuse is recorded as such, with its session', async () => {
    const bob = await t.register('audit-bob');
    const tokens = (await t.login('audit-bob')) as unknown as { refresh_token: string };
    assert.equal((await t.inject({ method: 'POST', url: '/auth/refresh', payload: { refresh_token: tokens.refresh_token } })).statusCode, 200);
    assert.equal((await t.inject({ method: 'POST', url: '/auth/refresh', payload: { refresh_token: tokens.refresh_token } })).statusCode, 400);
    const reuse = (await rowsOf(t, bob.id)).find((r) => r.event === 'refresh.reuse_detected');
    assert.ok(reuse);
    assert.equal(reuse.reason, 'refresh_token_reuse');
    assert.equal(reuse.outcome, 'failure');
  });

  test('a change that does not happen leaves no row of it: duplicate registration, failed rotation, wrong current password', async () => {
    const carol = await t.register('audit-carol');
    const before = (await rowsOf(t, carol.id)).length;
    assert.equal((await t.inject({ method: 'POST', url: '/auth/register', payload: { username: 'AUDIT-carol', password: TEST_PASSWORD } })).statusCode, 409);
    assert.equal((await t.inject({ method: 'POST', url: '/auth/refresh', payload: { refresh_token: `ghr_${'A'.repeat(43)}` } })).statusCode, 400);
    const session = await t.login('audit-carol');
    const wrong = await t.inject({
      method: 'POST',
      url: '/me/password',
      headers: bearer(session.access_token),
      payload: { current_password: 'not the password at all', new_password: NEW_PASSWORD },
    });
    assert.equal(wrong.statusCode, 403);
    const events = (await rowsOf(t, carol.id)).map((r) => r.event);
    assert.equal(events.length, before + 2, 'only the login and the refused password change were recorded');
    assert.equal(events.filter((e) => e === 'user.registered').length, 1);
    assert.ok(!events.includes('user.password_changed'));
    assert.ok(!events.includes('refresh.succeeded'));
  });

  // Issue 19 item 14: whoever holds a session and guesses at /me/password left no trace.
  test('a wrong current password is recorded as a failed password change, with its reason, in the trail and the log', async () => {
    const erin = await t.register('audit-guesser');
    const session = await t.login('audit-guesser');
    const guesses = [
      ['not the password at all', 'wrong_password'],
      ['x'.repeat(1500), 'password_too_long'],
    ];
    for (const [guess] of guesses) {
      const res = await t.inject({
        method: 'POST',
        url: '/me/password',
        headers: bearer(session.access_token),
        payload: { current_password: guess, new_password: NEW_PASSWORD },
      });
      assert.equal(res.statusCode, 403, res.body);
      assert.equal(res.json().code, 'ERR_CURRENT_PASSWORD_WRONG');
    }
    const failed = (await rowsOf(t, erin.id)).filter((r) => r.event === 'user.password_change_failed').reverse();
    assert.deepEqual(
      failed.map((r) => [r.outcome, r.reason, r.actorId, r.subjectId]),
      guesses.map(([, reason]) => ['failure', reason, erin.id, erin.id]),
    );
    assert.match(String(failed[0]!.sessionId), /^[0-9a-f-]{36}$/);
    const logged = t.logs
      .records()
      .filter((r) => r.err_code === 'ERR_CURRENT_PASSWORD_WRONG')
      .map((r) => r.reason);
    assert.deepEqual(logged.slice(-2), ['wrong_password', 'password_too_long']);
    assert.ok(!t.logs.lines.some((l) => l.includes('not the password at all')), 'the guess reached the log');
  });

  test('rows are append-only: the database refuses an UPDATE', async () => {
    await t.register('audit-dave');
    await assert.rejects(t.services.database.db.execute(sql`UPDATE audit_events SET outcome = 'success' WHERE event = 'user.registered'`), (error: unknown) => {
      const messages: string[] = [];
      for (let e: unknown = error; e instanceof Error; e = e.cause) messages.push(e.message);
      assert.match(messages.join(' | '), /append-only/);
      return true;
    });
  });

  describe('GET /me/events', () => {
    test("shows only the caller's own events, newest first, paginated by a cursor", async () => {
      const erin = await t.register('audit-erin');
      await t.register('audit-frank');
      await passwordGrant(t, 'audit-frank', 'wrong wrong wrong wrong');
      const tokens = await t.login('audit-erin');
      await passwordGrant(t, 'audit-erin', 'wrong wrong wrong wrong');
      const auth = bearer(tokens.access_token);

      const res = await t.inject({ method: 'GET', url: '/me/events', headers: auth });
      assert.equal(res.statusCode, 200);
      assert.equal(res.headers['cache-control'], 'no-store');
      const body = res.json() as { events: { id: number; event: string }[]; next_before: number | null };
      assert.deepEqual(
        body.events.map((e) => e.event),
        ['login.failed', 'login.succeeded', 'user.registered'],
      );
      assert.equal(body.next_before, null);
      assert.deepEqual(
        Object.keys(body.events[0]!).sort(),
        ['by_administrator', 'event', 'id', 'ip', 'occurred_at', 'outcome', 'reason', 'session_id', 'user_agent'],
        'no actor, subject or request id for the user',
      );
      const ownIds = new Set((await rowsOf(t, erin.id)).map((r) => r.id));
      assert.ok(
        body.events.every((e) => ownIds.has(e.id)),
        "never another user's event",
      );

      const page1 = (await t.inject({ method: 'GET', url: '/me/events?limit=2', headers: auth })).json() as typeof body;
      assert.equal(page1.events.length, 2);
      assert.ok(page1.next_before !== null);
      const page2 = (await t.inject({ method: 'GET', url: `/me/events?limit=2&before=${page1.next_before}`, headers: auth })).json() as typeof body;
      assert.deepEqual(
        page2.events.map((e) => e.event),
        ['user.registered'],
      );
    });

    test("malicious: an administrator's address and user agent never reach the subject; the user's own stay", async () => {
      const root = await t.register('audit-root');
      await t.services.userDirectory.changeRole(root.id, { grant: 'admin' });
      const adminToken = (await t.login('audit-root')).access_token;
      const hana = await t.register('audit-hana');
      const hanaLogin = await t.inject({
        method: 'POST',
        url: '/auth/login',
        headers: { 'user-agent': 'HanaPhone/2.0' },
        payload: { username: 'audit-hana', password: TEST_PASSWORD },
      });
      assert.equal(hanaLogin.statusCode, 200);
      const operatorAgent = 'OpsConsole/9.9 (operator-workstation-17)';
      for (const action of ['lock', 'unlock']) {
        const res = await t.inject({
          method: 'POST',
          url: `/admin/users/${hana.id}/${action}`,
          headers: { ...bearer(adminToken), 'user-agent': operatorAgent },
          remoteAddress: '203.0.113.77',
        });
        assert.equal(res.statusCode, 200, action);
      }
      const stored = (await rowsOf(t, hana.id)).filter((r) => r.actorId === root.id);
      assert.ok(
        stored.length >= 2 && stored.every((r) => r.userAgent === operatorAgent && r.ip === '203.0.113.77'),
        "the admin trail keeps the operator's details",
      );

      const tokens = (await t.inject({ method: 'POST', url: '/auth/login', payload: { username: 'audit-hana', password: TEST_PASSWORD } })).json() as {
        access_token: string;
      };
      const res = await t.inject({ method: 'GET', url: '/me/events', headers: bearer(tokens.access_token) });
      assert.equal(res.statusCode, 200);
      assert.ok(!res.body.includes(operatorAgent) && !res.body.includes('203.0.113.77'), "no operator detail in the subject's view");
      const events = (res.json() as { events: { event: string; ip: string | null; user_agent: string | null; by_administrator: boolean }[] }).events;
      const byAdmin = events.filter((e) => e.by_administrator);
      assert.deepEqual(byAdmin.map((e) => e.event).sort(), ['user.locked', 'user.unlocked']);
      assert.ok(byAdmin.every((e) => e.ip === null && e.user_agent === null));
      const ownLogin = events.find((e) => e.event === 'login.succeeded' && e.user_agent === 'HanaPhone/2.0');
      assert.ok(ownLogin && !ownLogin.by_administrator, "the user's own events keep their address and agent");
    });

    test('needs a token; bad paging parameters are a 400, never a 500', async () => {
      assert.equal((await t.inject({ method: 'GET', url: '/me/events' })).statusCode, 401);
      await t.register('audit-gina');
      const tokens = await t.login('audit-gina');
      for (const q of ['limit=0', 'limit=101', 'limit=x', 'before=-1', 'before=abc', 'subject=someone']) {
        const res = await t.inject({ method: 'GET', url: `/me/events?${q}`, headers: bearer(tokens.access_token) });
        assert.equal(res.statusCode, 400, q);
      }
    });
  });
});
