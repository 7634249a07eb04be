import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { decodeJwt } from 'jose';
import { and, eq } from 'drizzle-orm';
import { auditEvents, sessions } from '../../src/stores/db/schema.js';
import { NO_AUDIT_CONTEXT } from '../../src/audit/audit-event.js';
import { InvalidGrantError } from '../../src/errors/errors.js';
import { authenticatorOf, type Authenticator } from '../support/totp-authenticator.js';
import { factorStep, passwordStep, twoFactorLogin } from '../support/mfa-login.js';
import { bearer, startTestApp, TEST_PASSWORD, type TestApp } from '../support/test-app.js';

const STEP_MS = 30_000;
/** The middle of a time step, so ±1 step is exactly one step either way. */
const START = Math.floor(Date.parse('2026-12-03T10:00:00Z') / STEP_MS) * STEP_MS + 10_000;
const COOKIE = '__Host-gatehouse_session';
const SAME_ORIGIN = { 'sec-fetch-site': 'same-origin' } as const;
const AAL2 = 'urn:gatehouse:aal2';

interface TotpUser {
  readonly id: string;
  readonly username: string;
  readonly app: Authenticator;
  readonly recoveryCodes: string[];
}

describe('sign-in with a second factor: the MFA challenge, the factor step, step-up', () => {
  let t: TestApp;
  let clock = START;
  let users = 0;
  /** The next step's code: each code is accepted once, so every use moves the clock on a step. */
  const nextCode = (u: TotpUser): string => {
    clock += STEP_MS;
    return u.app.codeAt(clock);
  };

  const withTotp = async (): Promise<TotpUser> => {
    users += 1;
    const username = `mfa-user-${users}`;
    const { id } = await t.register(username);
    const { access_token: token } = await t.login(username);
    const started = await t.inject({ method: 'POST', url: '/me/factors/totp', headers: bearer(token), payload: {} });
    assert.equal(started.statusCode, 201, started.body);
    const app = authenticatorOf(started.json().otpauth_uri);
    const confirmed = await t.inject({
      method: 'POST',
      url: `/me/factors/${started.json().id}/confirm`,
      headers: bearer(token),
      payload: { code: app.codeAt(clock) },
    });
    assert.equal(confirmed.statusCode, 200, confirmed.body);
    return { id, username, app, recoveryCodes: confirmed.json().recovery_codes };
  };
  const sessionsOf = async (userId: string) => t.services.database.db.select().from(sessions).where(eq(sessions.userId, userId));
  const auditOf = async (userId: string, event: string) =>
    t.services.database.db
      .select()
      .from(auditEvents)
      .where(and(eq(auditEvents.subjectId, userId), eq(auditEvents.event, event)));
  const cookieOf = (header: unknown): string => {
    const match = new RegExp(`^${COOKIE}=([^;]*);`).exec(String(header));
    assert.ok(match, `no session cookie in ${String(header)}`);
    return match[1]!;
  };

  before(async () => {
    t = await startTestApp({ overrides: { now: () => clock } });
  });
  after(async () => {
    await t.close();
  });

  describe('malicious', () => {
    test('the right password alone yields a challenge, never a token or a session (grant, JSON login, cookie)', async () => {
      const u = await withTotp();
      const before = (await sessionsOf(u.id)).length;
      const challenge = await passwordStep(t, u.username);
      assert.match(challenge, /^ghm_[A-Za-z0-9_-]{43}$/);
      const json = await t.inject({ method: 'POST', url: '/auth/login', payload: { username: u.username, password: TEST_PASSWORD } });
      assert.equal(json.statusCode, 403);
      assert.equal(json.json().code, 'ERR_MFA_REQUIRED');
      assert.match(json.json().mfa_challenge, /^ghm_/);
      assert.equal(json.json().expires_in, 300);
      const cookie = await t.inject({ method: 'POST', url: '/auth/session', headers: SAME_ORIGIN, payload: { username: u.username, password: TEST_PASSWORD } });
      assert.equal(cookie.statusCode, 403);
      assert.equal(cookie.json().code, 'ERR_MFA_REQUIRED');
      assert.equal(cookie.headers['set-cookie'], undefined);
      assert.equal((await sessionsOf(u.id)).length, before, 'no session was started');
      for (const secret of [challenge, json.json().mfa_challenge, cookie.json().mfa_challenge]) {
        assert.ok(!t.logs.lines.some((line) => line.includes(secret)), 'a challenge never reaches the log');
      }
      // A wrong password is still the same 401 as for any account: the challenge tells nothing to who lacks the password.
      const wrong = await t.inject({ method: 'POST', url: '/auth/login', payload: { username: u.username, password: 'not the password at all' } });
      assert.equal(wrong.statusCode, 401);
      assert.equal(wrong.json().mfa_challenge, undefined);
    });

    test('a challenge is single use: spent by its sign-in, refused after', async () => {
      const u = await withTotp();
      const challenge = await passwordStep(t, u.username);
      assert.equal((await factorStep(t, challenge, { otp: nextCode(u) })).statusCode, 200);
      const again = await factorStep(t, challenge, { otp: nextCode(u) });
      assert.equal(again.statusCode, 400);
      assert.equal(again.json().error, 'invalid_grant');
      assert.equal(again.json().access_token, undefined);
    });

    test('racing factor steps with one challenge: exactly one sign-in', async () => {
      const u = await withTotp();
      const challenge = await passwordStep(t, u.username);
      const code = nextCode(u);
      const results = await Promise.all(Array.from({ length: 4 }, () => factorStep(t, challenge, { otp: code })));
      assert.equal(results.filter((r) => r.statusCode === 200).length, 1, results.map((r) => r.statusCode).join(' '));
    });

    test('the same code twice (two challenges): the second is a replay, refused', async () => {
      const u = await withTotp();
      const code = nextCode(u);
      assert.equal((await factorStep(t, await passwordStep(t, u.username), { otp: code })).statusCode, 200);
      const replay = await factorStep(t, await passwordStep(t, u.username), { otp: code });
      assert.equal(replay.statusCode, 400);
      assert.equal(replay.json().error, 'invalid_grant');
      assert.ok((await auditOf(u.id, 'mfa.failed')).some((r) => r.reason === 'replayed_code'));
    });

    test('the confirming code cannot sign in', async () => {
      const u = await withTotp();
      const res = await factorStep(t, await passwordStep(t, u.username), { otp: u.app.codeAt(clock) });
      assert.equal(res.statusCode, 400);
    });

    test('a wrong code: refused, the challenge stays for the right one; other refusals read alike', async () => {
      const u = await withTotp();
      const challenge = await passwordStep(t, u.username);
      const right = nextCode(u);
      const wrong = right === '000000' ? '111111' : '000000';
      const refused = await factorStep(t, challenge, { otp: wrong });
      assert.equal(refused.statusCode, 400);
      const unknown = await factorStep(t, `ghm_${'A'.repeat(43)}`, { otp: right });
      assert.deepEqual(unknown.json(), refused.json(), 'an unknown challenge and a wrong code read the same');
      assert.equal((await factorStep(t, challenge, { otp: right })).statusCode, 200);
    });

    test('a challenge used after the password changed is dead', async () => {
      const u = await withTotp();
      const challenge = await passwordStep(t, u.username);
      const { access_token } = await twoFactorLogin(t, u.username, nextCode(u));
      const changed = await t.inject({
        method: 'POST',
        url: '/me/password',
        headers: bearer(access_token),
        payload: { current_password: TEST_PASSWORD, new_password: 'a different long passphrase 42' },
      });
      assert.equal(changed.statusCode, 204, changed.body);
      const res = await factorStep(t, challenge, { otp: nextCode(u) });
      assert.equal(res.statusCode, 400);
      assert.ok((await auditOf(u.id, 'mfa.failed')).some((r) => r.reason === 'password_changed_since'));
    });

    test('a challenge used after log out everywhere is dead', async () => {
      const u = await withTotp();
      const challenge = await passwordStep(t, u.username);
      const { access_token } = await twoFactorLogin(t, u.username, nextCode(u));
      assert.equal((await t.inject({ method: 'POST', url: '/auth/logout-all', headers: bearer(access_token) })).statusCode, 204);
      assert.equal((await factorStep(t, challenge, { otp: nextCode(u) })).statusCode, 400);
    });

    test("a challenge is bound to its client and to what it yields: another client's, or a cookie one at the token endpoint, is refused", async () => {
      const u = await withTotp();
      const cookieStep = await t.inject({
        method: 'POST',
        url: '/auth/session',
        headers: SAME_ORIGIN,
        payload: { username: u.username, password: TEST_PASSWORD },
      });
      assert.equal((await factorStep(t, cookieStep.json().mfa_challenge, { otp: nextCode(u) })).statusCode, 400);
      const tokenChallenge = await passwordStep(t, u.username);
      const asCookie = await t.inject({
        method: 'POST',
        url: '/auth/session/mfa',
        headers: SAME_ORIGIN,
        payload: { mfa_challenge: tokenChallenge, otp: nextCode(u) },
      });
      assert.equal(asCookie.statusCode, 401);
      assert.equal(asCookie.headers['set-cookie'], undefined);
    });

    test('a challenge made for a cookie session does not yield tokens even to the same client (and back)', async () => {
      const u = await withTotp();
      const user = (await t.services.users.findById(u.id))!;
      const step = { clientId: 'gatehouse-web', requestedScopes: null, tenant: null, resource: null } as const;
      for (const [made, asked] of [
        ['cookie', 'tokens'],
        ['tokens', 'cookie'],
      ] as const) {
        const issued = await t.services.mfaSignIn.challengeIfRequired(user, { ...step, yields: made }, NO_AUDIT_CONTEXT);
        assert.ok(issued !== undefined);
        await assert.rejects(
          t.services.mfaSignIn.complete(issued.challenge, { otp: nextCode(u) }, { clientId: 'gatehouse-web', yields: asked }, NO_AUDIT_CONTEXT),
          InvalidGrantError,
        );
      }
      assert.equal((await auditOf(u.id, 'mfa.failed')).filter((r) => r.reason === 'challenge_of_another_client').length, 2);
    });

    test('brute force of the code: past GATEHOUSE_LIMIT_OTP_USER even the right code is 429, never a 500', async () => {
      const u = await withTotp();
      const right = nextCode(u);
      const wrong = right === '000000' ? '111111' : '000000';
      let last = 0;
      for (let i = 0; i < 6; i += 1) last = (await factorStep(t, await passwordStep(t, u.username), { otp: wrong })).statusCode;
      assert.equal(last, 429);
      const res = await factorStep(t, await passwordStep(t, u.username), { otp: right });
      assert.equal(res.statusCode, 429);
      assert.ok(Number(res.headers['retry-after']) > 0);
    });

    test('bad input: both codes, neither, an oversized challenge → 400, never 500', async () => {
      const u = await withTotp();
      const challenge = await passwordStep(t, u.username);
      const both = await t.inject({ method: 'POST', url: '/auth/login/mfa', payload: { mfa_challenge: challenge, otp: '123456', recovery_code: 'x' } });
      assert.equal(both.statusCode, 400);
      const neither = await t.inject({ method: 'POST', url: '/auth/login/mfa', payload: { mfa_challenge: challenge } });
      assert.equal(neither.statusCode, 400);
      const huge = await t.inject({ method: 'POST', url: '/auth/login/mfa', payload: { mfa_challenge: 'g'.repeat(5000), otp: '123456' } });
      assert.equal(huge.statusCode, 400);
      // None of these spent the challenge.
      assert.equal((await factorStep(t, challenge, { otp: nextCode(u) })).statusCode, 200);
    });

    test('a recovery code signs in once; used again it is refused', async () => {
      const u = await withTotp();
      const code = u.recoveryCodes[0]!;
      const first = await factorStep(t, await passwordStep(t, u.username), { recovery_code: code.toUpperCase() });
      assert.equal(first.statusCode, 200, first.body);
      assert.equal((await factorStep(t, await passwordStep(t, u.username), { recovery_code: code })).statusCode, 400);
      assert.equal(await t.services.factors.store.recoveryCodesLeft(u.id), 9);
    });
  });

  describe('the factor step', () => {
    test('tokens of a two-factor sign-in: amr pwd otp, acr aal2, the scope and tenant the password step asked for; refresh keeps them', async () => {
      const u = await withTotp();
      const challenge = await passwordStep(t, u.username, { scope: 'profile' });
      const res = await factorStep(t, challenge, { otp: nextCode(u) });
      assert.equal(res.statusCode, 200, res.body);
      const claims = decodeJwt(res.json().access_token);
      assert.deepEqual(claims.amr, ['pwd', 'otp']);
      assert.equal(claims.acr, AAL2);
      assert.equal(claims.auth_time, Math.floor(clock / 1000));
      assert.equal(res.json().scope, 'profile');
      const refreshed = await t.inject({ method: 'POST', url: '/auth/refresh', payload: { refresh_token: res.json().refresh_token } });
      assert.equal(refreshed.statusCode, 200);
      assert.equal(decodeJwt(refreshed.json().access_token).acr, AAL2);
      const events = (await auditOf(u.id, 'mfa.succeeded')).map((r) => r.reason);
      assert.ok(events.includes('otp'));
      assert.ok((await auditOf(u.id, 'mfa.challenged')).length >= 1);
    });

    test('JSON: /auth/login then /auth/login/mfa', async () => {
      const u = await withTotp();
      const step = await t.inject({ method: 'POST', url: '/auth/login', payload: { username: u.username, password: TEST_PASSWORD } });
      const res = await t.inject({ method: 'POST', url: '/auth/login/mfa', payload: { mfa_challenge: step.json().mfa_challenge, otp: nextCode(u) } });
      assert.equal(res.statusCode, 200, res.body);
      assert.equal(decodeJwt(res.json().access_token).acr, AAL2);
    });

    test('cookie: /auth/session then /auth/session/mfa → the cookie session, two factors on its row', async () => {
      const u = await withTotp();
      const step = await t.inject({ method: 'POST', url: '/auth/session', headers: SAME_ORIGIN, payload: { username: u.username, password: TEST_PASSWORD } });
      const res = await t.inject({
        method: 'POST',
        url: '/auth/session/mfa',
        headers: SAME_ORIGIN,
        payload: { mfa_challenge: step.json().mfa_challenge, otp: nextCode(u) },
      });
      assert.equal(res.statusCode, 200, res.body);
      const value = cookieOf(res.headers['set-cookie']);
      assert.equal((await t.inject({ method: 'GET', url: '/me', headers: { cookie: `${COOKIE}=${value}` } })).statusCode, 200);
      const [row] = await t.services.database.db.select().from(sessions).where(eq(sessions.id, res.json().session.id));
      assert.deepEqual(row?.authMethods, ['pwd', 'otp']);
    });

    test('a user without a second factor signs in with the password alone, as before', async () => {
      users += 1;
      await t.register(`plain-user-${users}`);
      const { access_token } = await t.login(`plain-user-${users}`);
      assert.deepEqual(decodeJwt(access_token).amr, ['pwd']);
    });
  });

  describe('an administrator resets a lost authenticator (DELETE /admin/users/{id}/factors)', () => {
    test('malicious: the user himself, without admin:users, cannot; an administrator can, and the password signs in alone again', async () => {
      const u = await withTotp();
      const { access_token: own } = await twoFactorLogin(t, u.username, nextCode(u));
      const self = await t.inject({ method: 'DELETE', url: `/admin/users/${u.id}/factors`, headers: bearer(own) });
      assert.equal(self.statusCode, 403);
      assert.equal(await t.services.factors.store.hasConfirmed(u.id), true);
      users += 1;
      const { id: adminId } = await t.register(`mfa-admin-${users}`);
      await t.services.userDirectory.changeRole(adminId, { grant: 'admin' });
      const { access_token: adminToken } = await t.login(`mfa-admin-${users}`);
      const reset = await t.inject({ method: 'DELETE', url: `/admin/users/${u.id}/factors`, headers: bearer(adminToken) });
      assert.equal(reset.statusCode, 204, reset.body);
      assert.equal(await t.services.factors.store.hasConfirmed(u.id), false);
      assert.equal(await t.services.factors.store.recoveryCodesLeft(u.id), 0);
      assert.deepEqual(decodeJwt((await t.login(u.username)).access_token).amr, ['pwd']);
      const [row] = await auditOf(u.id, 'factor.reset_by_admin');
      assert.equal(row?.actorId, adminId);
      const unknown = await t.inject({ method: 'DELETE', url: '/admin/users/00000000-0000-4000-8000-000000000000/factors', headers: bearer(adminToken) });
      assert.equal(unknown.statusCode, 404);
    });
  });

  describe('step-up (POST /auth/step-up)', () => {
    const regenerate = (headers: Record<string, string>) => t.inject({ method: 'POST', url: '/me/recovery-codes', headers });

    test('malicious: a two-factor sign-in older than 5 minutes cannot change factors; a wrong code does not step up; a right one does, once', async () => {
      const u = await withTotp();
      const { access_token: old } = await twoFactorLogin(t, u.username, nextCode(u));
      clock += 301_000;
      const refused = await regenerate(bearer(old));
      assert.equal(refused.statusCode, 401);
      assert.match(String(refused.headers['www-authenticate']), /insufficient_user_authentication/);
      const right = nextCode(u);
      const wrongCode = right === '000000' ? '111111' : '000000';
      const wrong = await t.inject({ method: 'POST', url: '/auth/step-up', headers: bearer(old), payload: { otp: wrongCode } });
      assert.equal(wrong.statusCode, 400);
      assert.equal(wrong.json().code, 'ERR_INVALID_CODE');
      assert.equal((await regenerate(bearer(old))).statusCode, 401, 'a wrong code elevated nothing');
      const stepped = await t.inject({ method: 'POST', url: '/auth/step-up', headers: bearer(old), payload: { otp: right } });
      assert.equal(stepped.statusCode, 200, stepped.body);
      assert.equal(stepped.json().acr, AAL2);
      assert.equal(stepped.json().auth_time, Math.floor(clock / 1000));
      const fresh = stepped.json().access_token as string;
      assert.equal(decodeJwt(fresh).auth_time, Math.floor(clock / 1000));
      assert.equal((await regenerate(bearer(fresh))).statusCode, 200);
      // The same code again: a replay, refused.
      const replay = await t.inject({ method: 'POST', url: '/auth/step-up', headers: bearer(fresh), payload: { otp: right } });
      assert.equal(replay.statusCode, 400);
      // The elevation fades: 5 minutes later the same token no longer changes factors.
      clock += 301_000;
      assert.equal((await regenerate(bearer(fresh))).statusCode, 401);
    });

    test('a cookie session steps up; its next request carries the two-factor sign-in', async () => {
      const u = await withTotp();
      const step = await t.inject({ method: 'POST', url: '/auth/session', headers: SAME_ORIGIN, payload: { username: u.username, password: TEST_PASSWORD } });
      const signedIn = await t.inject({
        method: 'POST',
        url: '/auth/session/mfa',
        headers: SAME_ORIGIN,
        payload: { mfa_challenge: step.json().mfa_challenge, otp: nextCode(u) },
      });
      const cookie = { cookie: `${COOKIE}=${cookieOf(signedIn.headers['set-cookie'])}`, ...SAME_ORIGIN };
      clock += 301_000;
      assert.equal((await regenerate(cookie)).statusCode, 401);
      const stepped = await t.inject({ method: 'POST', url: '/auth/step-up', headers: cookie, payload: { otp: nextCode(u) } });
      assert.equal(stepped.statusCode, 200, stepped.body);
      assert.equal(stepped.json().access_token, undefined, 'a cookie session gets no token');
      assert.equal((await regenerate(cookie)).statusCode, 200);
    });

    test('malicious: a cross-site step-up with the cookie is refused by the CSRF layers', async () => {
      const u = await withTotp();
      const step = await t.inject({ method: 'POST', url: '/auth/session', headers: SAME_ORIGIN, payload: { username: u.username, password: TEST_PASSWORD } });
      const signedIn = await t.inject({
        method: 'POST',
        url: '/auth/session/mfa',
        headers: SAME_ORIGIN,
        payload: { mfa_challenge: step.json().mfa_challenge, otp: nextCode(u) },
      });
      const res = await t.inject({
        method: 'POST',
        url: '/auth/step-up',
        headers: { cookie: `${COOKIE}=${cookieOf(signedIn.headers['set-cookie'])}`, 'sec-fetch-site': 'cross-site' },
        payload: { otp: nextCode(u) },
      });
      assert.equal(res.statusCode, 403);
      assert.equal(res.json().code, 'ERR_CSRF');
    });
  });
});
