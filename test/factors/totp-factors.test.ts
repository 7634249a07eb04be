import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { eq } from 'drizzle-orm';
import { verifySecondFactor, type SecondFactorDeps } from '../../src/factors/second-factor.js';
import { enrolTotp } from '../../src/factors/factors.js';
import { NO_AUDIT_CONTEXT } from '../../src/audit/audit-event.js';
import { ThrottledError, TotpUnavailableError } from '../../src/errors/errors.js';
import { auditEvents, factors, recoveryCodes } from '../../src/stores/db/schema.js';
import { authenticatorOf, type Authenticator } from '../support/totp-authenticator.js';
import { bearer, startTestApp, type TestApp } from '../support/test-app.js';
import { twoFactorLogin } from '../support/mfa-login.js';

const STEP_MS = 30_000;
/** The middle of a time step: ±1 step is then exactly one step either way. */
const START = Math.floor(Date.parse('2026-12-03T09:00:00Z') / STEP_MS) * STEP_MS + 10_000;

describe('TOTP factors and recovery codes (/me/factors, /me/recovery-codes)', () => {
  let t: TestApp;
  let clock = START;
  let users = 0;

  interface Enrolled {
    readonly id: string;
    readonly token: string;
    readonly factorId: string;
    readonly app: Authenticator;
    readonly recoveryCodes: string[];
  }

  const deps = (): SecondFactorDeps => ({
    factors: t.services.factors.store,
    kek: t.services.factors.kek,
    throttle: t.services.factors.throttle,
    now: () => clock,
  });
  const enrol = async (token: string) => {
    const res = await t.inject({ method: 'POST', url: '/me/factors/totp', headers: bearer(token), payload: {} });
    assert.equal(res.statusCode, 201, res.body);
    return res.json() as { id: string; otpauth_uri: string; qr_svg: string };
  };
  const confirm = (token: string, factorId: string, code: string) =>
    t.inject({ method: 'POST', url: `/me/factors/${factorId}/confirm`, headers: bearer(token), payload: { code } });
  /**
   * A new user with a confirmed TOTP factor and the access token of a fresh two-factor sign-in
   * (factor changes ask for one); the clock is then one step past the last accepted code.
   */
  const enrolled = async (): Promise<Enrolled> => {
    users += 1;
    const username = `totp-user-${users}`;
    const { id } = await t.register(username);
    const { access_token: firstToken } = await t.login(username);
    const started = await enrol(firstToken);
    const app = authenticatorOf(started.otpauth_uri);
    const res = await confirm(firstToken, started.id, app.codeAt(clock));
    assert.equal(res.statusCode, 200, res.body);
    clock += STEP_MS;
    const { access_token: token } = await twoFactorLogin(t, username, app.codeAt(clock));
    clock += STEP_MS;
    return { id, token, factorId: started.id, app, recoveryCodes: res.json().recovery_codes };
  };

  before(async () => {
    t = await startTestApp({ overrides: { now: () => clock } });
  });
  after(async () => {
    await t.close();
  });

  describe('malicious', () => {
    test('the same code twice: accepted once, then refused as a replay', async () => {
      const u = await enrolled();
      const code = u.app.codeAt(clock);
      assert.deepEqual(await verifySecondFactor(deps(), u.id, { otp: code }), { accepted: true, method: 'otp', factorId: u.factorId });
      assert.deepEqual(await verifySecondFactor(deps(), u.id, { otp: code }), { accepted: false, reason: 'replayed_code' });
      // Half a step later the same code is still inside the window: still refused.
      clock += STEP_MS / 2;
      assert.equal((await verifySecondFactor(deps(), u.id, { otp: code })).accepted, false);
    });

    test('two concurrent verifications of one code: exactly one accepted', async () => {
      const u = await enrolled();
      const code = u.app.codeAt(clock);
      const outcomes = await Promise.all(Array.from({ length: 4 }, () => verifySecondFactor(deps(), u.id, { otp: code })));
      assert.equal(outcomes.filter((o) => o.accepted).length, 1, JSON.stringify(outcomes));
    });

    test('the confirming code cannot be used again to sign in', async () => {
      users += 1;
      const { id } = await t.register(`totp-user-${users}`);
      const { access_token: token } = await t.login(`totp-user-${users}`);
      const started = await enrol(token);
      const code = authenticatorOf(started.otpauth_uri).codeAt(clock);
      assert.equal((await confirm(token, started.id, code)).statusCode, 200);
      assert.equal((await verifySecondFactor(deps(), id, { otp: code })).accepted, false);
    });

    test('a code from two steps before or after now is refused; one step either way is accepted', async () => {
      const u = await enrolled();
      clock += 10 * STEP_MS;
      assert.equal((await verifySecondFactor(deps(), u.id, { otp: u.app.codeAt(clock - 2 * STEP_MS) })).accepted, false);
      assert.equal((await verifySecondFactor(deps(), u.id, { otp: u.app.codeAt(clock + 2 * STEP_MS) })).accepted, false);
      assert.equal((await verifySecondFactor(deps(), u.id, { otp: u.app.codeAt(clock - STEP_MS) })).accepted, true);
      assert.equal((await verifySecondFactor(deps(), u.id, { otp: u.app.codeAt(clock + STEP_MS) })).accepted, true);
      // After the code of the next step, the current step's code is an older step: refused.
      assert.equal((await verifySecondFactor(deps(), u.id, { otp: u.app.codeAt(clock) })).accepted, false);
    });

    test('brute force: past GATEHOUSE_LIMIT_OTP_USER (5 wrong codes) even the right code is refused, 429', async () => {
      const u = await enrolled();
      const right = u.app.codeAt(clock);
      const wrong = right === '000000' ? '000001' : '000000';
      for (let i = 0; i < 5; i += 1) assert.equal((await verifySecondFactor(deps(), u.id, { otp: wrong })).accepted, false);
      await assert.rejects(verifySecondFactor(deps(), u.id, { otp: right }), ThrottledError);
      // Another account is not affected.
      const other = await enrolled();
      assert.equal((await verifySecondFactor(deps(), other.id, { otp: other.app.codeAt(clock) })).accepted, true);
    });

    test('a recovery code is accepted once; concurrent uses of one code: one accepted', async () => {
      const u = await enrolled();
      const [first, second] = u.recoveryCodes;
      assert.deepEqual(await verifySecondFactor(deps(), u.id, { recoveryCode: first! }), { accepted: true, method: 'recovery_code', factorId: null });
      assert.equal((await verifySecondFactor(deps(), u.id, { recoveryCode: first! })).accepted, false);
      const raced = await Promise.all([1, 2, 3].map(() => verifySecondFactor(deps(), u.id, { recoveryCode: second!.toUpperCase() })));
      assert.equal(raced.filter((o) => o.accepted).length, 1);
    });

    test("another user's recovery code is refused", async () => {
      const a = await enrolled();
      const b = await enrolled();
      assert.equal((await verifySecondFactor(deps(), b.id, { recoveryCode: a.recoveryCodes[0]! })).accepted, false);
    });

    test('regenerating the recovery codes kills the old set', async () => {
      const u = await enrolled();
      const res = await t.inject({ method: 'POST', url: '/me/recovery-codes', headers: bearer(u.token) });
      assert.equal(res.statusCode, 200, res.body);
      const fresh = res.json().recovery_codes as string[];
      assert.equal((await verifySecondFactor(deps(), u.id, { recoveryCode: u.recoveryCodes[1]! })).accepted, false);
      assert.equal((await verifySecondFactor(deps(), u.id, { recoveryCode: fresh[1]! })).accepted, true);
    });

    test('an unconfirmed factor is no second factor: its codes are refused', async () => {
      users += 1;
      const { id } = await t.register(`totp-user-${users}`);
      const { access_token: token } = await t.login(`totp-user-${users}`);
      const started = await enrol(token);
      assert.equal((await verifySecondFactor(deps(), id, { otp: authenticatorOf(started.otpauth_uri).codeAt(clock) })).accepted, false);
      assert.equal(await t.services.factors.store.hasConfirmed(id), false);
    });

    test('a wrong confirmation code leaves the factor unconfirmed (400 ERR_INVALID_CODE)', async () => {
      users += 1;
      await t.register(`totp-user-${users}`);
      const { access_token: token } = await t.login(`totp-user-${users}`);
      const started = await enrol(token);
      const right = authenticatorOf(started.otpauth_uri).codeAt(clock);
      const res = await confirm(token, started.id, right === '123456' ? '654321' : '123456');
      assert.equal(res.statusCode, 400);
      assert.equal(res.json().code, 'ERR_INVALID_CODE');
    });

    test("another user's factor cannot be confirmed or removed (404)", async () => {
      const a = await enrolled();
      const b = await enrolled();
      assert.equal((await t.inject({ method: 'DELETE', url: `/me/factors/${a.factorId}`, headers: bearer(b.token) })).statusCode, 404);
      assert.equal((await confirm(b.token, a.factorId, a.app.codeAt(clock))).statusCode, 404);
    });

    test('the secret is sealed: neither the database row, the list, the log nor the audit trail holds it', async () => {
      const u = await enrolled();
      const [row] = await t.services.database.db.select().from(factors).where(eq(factors.id, u.factorId));
      const secret = u.app.secretBase32;
      assert.ok(row !== undefined && !row.sealedSecret.includes(secret) && row.sealedSecret.startsWith('v1.'));
      const list = await t.inject({ method: 'GET', url: '/me/factors', headers: bearer(u.token) });
      assert.equal(list.statusCode, 200);
      assert.ok(!list.body.includes(secret) && !list.body.includes('sealed'));
      const codes = await t.services.database.db.select().from(recoveryCodes).where(eq(recoveryCodes.userId, u.id));
      assert.equal(codes.length, 10);
      for (const c of u.recoveryCodes) assert.ok(!codes.some((r) => r.digest.includes(c.replaceAll('-', ''))));
      const logs = t.logs.lines.join('\n');
      const trail = JSON.stringify(await t.services.database.db.select().from(auditEvents));
      for (const text of [logs, trail]) {
        assert.ok(!text.includes(secret), 'no TOTP secret');
        for (const c of u.recoveryCodes) assert.ok(!text.includes(c), 'no recovery code');
      }
    });

    test('a secret moved to another row does not open (the factor id is authenticated)', async () => {
      const a = await enrolled();
      const b = await enrolled();
      const db = t.services.database.db;
      const [rowA] = await db.select().from(factors).where(eq(factors.id, a.factorId));
      await db.update(factors).set({ sealedSecret: rowA!.sealedSecret }).where(eq(factors.id, b.factorId));
      await assert.rejects(verifySecondFactor(deps(), b.id, { otp: a.app.codeAt(clock) }), /altered or moved/);
    });

    test('production without GATEHOUSE_KEY_ENCRYPTION_KEY: enrolment refused with TotpUnavailableError', async () => {
      await assert.rejects(
        enrolTotp(
          { ...t.services.factors, kek: async () => undefined },
          { id: '00000000-0000-4000-8000-000000000000', username: 'x' },
          undefined,
          NO_AUDIT_CONTEXT,
        ),
        TotpUnavailableError,
      );
    });
  });

  describe('enrolment', () => {
    test('enrol → otpauth URI and an SVG QR code; confirm → 10 distinct recovery codes; list; remove', async () => {
      users += 1;
      const { id } = await t.register(`totp-user-${users}`);
      const { access_token: token } = await t.login(`totp-user-${users}`);
      const started = await enrol(token);
      assert.match(started.otpauth_uri, /^otpauth:\/\/totp\/gatehouse\.test:totp-user-\d+\?/);
      assert.match(started.otpauth_uri, /algorithm=SHA1&digits=6&period=30/);
      assert.match(started.qr_svg, /^<svg[^>]*xmlns="http:\/\/www.w3.org\/2000\/svg"/);
      const res = await confirm(token, started.id, authenticatorOf(started.otpauth_uri).codeAt(clock));
      assert.equal(res.statusCode, 200);
      const codes = res.json().recovery_codes as string[];
      assert.equal(codes.length, 10);
      assert.equal(new Set(codes).size, 10);
      for (const c of codes) assert.match(c, /^[a-z2-7]{5}(-[a-z2-7]{5}){3}$/);
      const list = (await t.inject({ method: 'GET', url: '/me/factors', headers: bearer(token) })).json();
      assert.equal(list.factors.length, 1);
      assert.equal(list.factors[0].id, started.id);
      assert.equal(list.recovery_codes_left, 10);
      assert.ok(list.factors[0].confirmed_at !== null);
      // Removing it takes a two-factor sign-in now.
      assert.equal((await t.inject({ method: 'DELETE', url: `/me/factors/${started.id}`, headers: bearer(token) })).statusCode, 401);
      clock += STEP_MS;
      const { access_token: twoFactor } = await twoFactorLogin(t, `totp-user-${users}`, authenticatorOf(started.otpauth_uri).codeAt(clock));
      assert.equal((await t.inject({ method: 'DELETE', url: `/me/factors/${started.id}`, headers: bearer(twoFactor) })).statusCode, 204);
      assert.equal(await t.services.factors.store.hasConfirmed(id), false);
      assert.equal(await t.services.factors.store.recoveryCodesLeft(id), 0, 'the last factor takes the recovery codes with it');
      const events = (await t.services.audit.list({ subjectId: id, limit: 50 })).map((r) => r.event);
      for (const e of ['factor.enrolled', 'factor.confirmed', 'recovery_codes.generated', 'factor.removed']) assert.ok(events.includes(e as never), e);
    });
  });
});
