import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import type { LightMyRequestResponse } from 'fastify';
import { headersWithout } from '../support/headers.js';
import { startSmtpSink, type ReceivedMail, type SmtpSink } from '../support/smtp-sink.js';
import { bearer, startTestApp, TEST_ISSUER, TEST_PASSWORD, type TestApp } from '../support/test-app.js';

const CONFIRM_LINK = /confirm-email\?code=([A-Za-z0-9_-]{43})/;
const RESET_LINK = /reset-password\?code=([A-Za-z0-9_-]{43})/;
const FORM = { 'content-type': 'application/x-www-form-urlencoded' };

/** Mails that arrived after `from`, and the codes they carry. */
function codeOf(mail: ReceivedMail | undefined, link = CONFIRM_LINK): string {
  const match = link.exec(mail?.text ?? '');
  assert.ok(match, `a link in: ${mail?.subject ?? 'no mail'}`);
  return match[1]!;
}

describe('email confirmation and change over SMTP', () => {
  let sink: SmtpSink;
  let t: TestApp;
  let strict: TestApp;
  let clock = Date.now();
  const codes: string[] = [];
  let seen = 0;

  /** The mails sent since the last call, once every background job is done. */
  const newMails = async (app: TestApp = t): Promise<ReceivedMail[]> => {
    await app.services.backgroundWork.settled();
    const fresh = sink.received.slice(seen);
    seen = sink.received.length;
    for (const mail of fresh) for (const m of mail.text.matchAll(/code=([A-Za-z0-9_-]{43})/g)) codes.push(m[1]!);
    return fresh;
  };
  const register = async (app: TestApp, username: string, email?: string): Promise<LightMyRequestResponse> =>
    app.inject({ method: 'POST', url: '/auth/register', payload: { username, password: TEST_PASSWORD, ...(email === undefined ? {} : { email }) } });
  const confirm = (app: TestApp, code: string) => app.inject({ method: 'POST', url: '/auth/email/confirm', payload: { code } });
  const me = async (app: TestApp, username: string) => {
    const { access_token } = await app.login(username);
    return (await app.inject({ method: 'GET', url: '/me', headers: bearer(access_token) })).json() as { email: string | null; email_verified: boolean };
  };
  const changeEmail = async (app: TestApp, username: string, email: string, currentPassword = TEST_PASSWORD) => {
    const { access_token } = await app.login(username);
    return app.inject({ method: 'POST', url: '/me/email', headers: bearer(access_token), payload: { email, current_password: currentPassword } });
  };
  const passwordGrant = (app: TestApp, username: string, password: string) =>
    app.inject({ method: 'POST', url: '/auth/token', headers: FORM, payload: new URLSearchParams({ grant_type: 'password', username, password }).toString() });

  before(async () => {
    sink = await startSmtpSink();
    const env = { GATEHOUSE_SMTP_URL: sink.url, GATEHOUSE_LIMIT_MAIL_ACCOUNT: '1000/1m', GATEHOUSE_LIMIT_MAIL_REQUEST_IP: '1000/15m' };
    t = await startTestApp({ env, overrides: { now: () => clock } });
    strict = await startTestApp({ env: { ...env, GATEHOUSE_EMAIL_VERIFICATION: 'required' } });
  });
  after(async () => {
    await Promise.all([t.close(), strict.close()]);
    await sink.close();
  });
  beforeEach(async () => {
    await newMails(t);
    await newMails(strict);
  });

  describe('malicious', () => {
    test('required: an unconfirmed account is refused exactly as a wrong password is, until its link is used', async () => {
      assert.equal((await register(strict, 'vera', 'vera@example.com')).statusCode, 201);
      const [link] = await newMails(strict);
      assert.deepEqual(link?.envelopeTo, ['vera@example.com']);
      const unconfirmed = await passwordGrant(strict, 'vera', TEST_PASSWORD);
      const wrong = await passwordGrant(strict, 'vera', `${TEST_PASSWORD}!`);
      assert.equal(unconfirmed.statusCode, 400);
      assert.equal(unconfirmed.body, wrong.body);
      assert.deepEqual(headersWithout(unconfirmed, 'date', 'x-request-id'), headersWithout(wrong, 'date', 'x-request-id'));
      const browser = (password: string) =>
        strict.inject({ method: 'POST', url: '/auth/session', headers: { origin: TEST_ISSUER }, payload: { username: 'vera', password } });
      const [cookie, cookieWrong] = [await browser(TEST_PASSWORD), await browser(`${TEST_PASSWORD}!`)];
      assert.equal(cookie.statusCode, 401, cookie.body);
      assert.deepEqual({ ...(cookie.json() as object), request_id: null }, { ...(cookieWrong.json() as object), request_id: null });

      assert.equal((await confirm(strict, codeOf(link))).statusCode, 204);
      assert.equal((await passwordGrant(strict, 'vera', TEST_PASSWORD)).statusCode, 200);
      assert.deepEqual(await me(strict, 'vera'), { ...(await me(strict, 'vera')), email: 'vera@example.com', email_verified: true });
    });

    test('required: a registration without an address is refused, naming the field', async () => {
      const res = await register(strict, 'nomail');
      assert.equal(res.statusCode, 400);
      assert.equal(res.json().code, 'ERR_VALIDATION');
      assert.match(res.body, /email/);
    });

    test('resend: one answer for an unknown name, a confirmed and an unconfirmed account; only the unconfirmed one is mailed', async () => {
      assert.equal((await register(strict, 'walt', 'walt@example.com')).statusCode, 201);
      await newMails(strict);
      const resend = (username: string) => strict.inject({ method: 'POST', url: '/auth/email/verification', payload: { username } });
      const answers = [await resend('walt'), await resend('nobody-here'), await resend('vera')];
      for (const a of answers) {
        assert.equal(a.statusCode, 202);
        assert.equal(a.body, answers[0]!.body);
      }
      const mails = await newMails(strict);
      assert.deepEqual(
        mails.map((m) => m.envelopeTo[0]),
        ['walt@example.com'],
      );
      // Only the latest link works: the first one died when the resend replaced it.
      assert.equal((await confirm(strict, codeOf(mails[0]))).statusCode, 204);
    });

    test('a used code, a code of another kind, a malformed code: one 400 ERR_INVALID_CODE', async () => {
      assert.equal((await register(t, 'xena', 'xena@example.com')).statusCode, 201);
      const code = codeOf((await newMails())[0]);
      assert.equal((await confirm(t, code)).statusCode, 204);
      const again = await confirm(t, code);
      assert.equal(again.statusCode, 400);
      assert.equal(again.json().code, 'ERR_INVALID_CODE');
      // A reset code (xena is confirmed now) is no confirmation code.
      await t.inject({ method: 'POST', url: '/auth/password-reset', payload: { username: 'xena' } });
      const resetCode = codeOf((await newMails())[0], RESET_LINK);
      assert.equal((await confirm(t, resetCode)).json().code, 'ERR_INVALID_CODE');
      assert.equal((await confirm(t, 'not-a-code')).json().code, 'ERR_INVALID_CODE');
    });

    test('change: the password is proved again; a wrong one is 403 and mails nothing', async () => {
      const res = await changeEmail(t, 'xena', 'xena.new@example.com', 'not my password at all');
      assert.equal(res.statusCode, 403);
      assert.equal(res.json().code, 'ERR_CURRENT_PASSWORD_WRONG');
      assert.deepEqual(await newMails(), []);
      const { access_token } = await t.login('xena');
      const missing = await t.inject({ method: 'POST', url: '/me/email', headers: bearer(access_token), payload: { email: 'xena.new@example.com' } });
      assert.equal(missing.statusCode, 400);
    });

    test('malicious: a change of address needs a sign-in within 5 minutes (a factor change): an older session is 401 ERR_STEP_UP_REQUIRED, nothing mailed', async () => {
      const { access_token } = await t.login('xena');
      clock += 301_000;
      try {
        const res = await t.inject({
          method: 'POST',
          url: '/me/email',
          headers: bearer(access_token),
          payload: { email: 'xena.stolen@example.com', current_password: TEST_PASSWORD },
        });
        assert.equal(res.statusCode, 401);
        assert.equal(res.json().code, 'ERR_STEP_UP_REQUIRED');
        assert.match(String(res.headers['www-authenticate']), /error="insufficient_user_authentication", acr_values="urn:gatehouse:aal1", max_age=300/);
      } finally {
        clock -= 301_000;
      }
      assert.deepEqual(await newMails(), []);
    });

    test("change to an address another account confirmed: the same 202, no link, the owner is told, the requester's address stays", async () => {
      assert.equal((await register(t, 'yuri', 'yuri@example.com')).statusCode, 201);
      assert.equal((await confirm(t, codeOf((await newMails())[0]))).statusCode, 204);
      const free = await changeEmail(t, 'xena', 'free.address@example.com');
      await newMails();
      const taken = await changeEmail(t, 'xena', 'YURI@example.com');
      assert.equal(taken.statusCode, 202);
      assert.equal(taken.body, free.body);
      const mails = await newMails();
      const toYuri = mails.filter((m) => m.envelopeTo[0] === 'YURI@example.com');
      assert.equal(toYuri.length, 1);
      assert.doesNotMatch(toYuri[0]!.text, /code=/);
      assert.match(toYuri[0]!.subject, /offered for another account/);
      assert.equal((await me(t, 'xena')).email, 'xena@example.com');

      // Registration reveals nothing about addresses either: it succeeds, unconfirmed, and the owner is told.
      const reg = await register(t, 'zack', 'yuri@example.com');
      assert.equal(reg.statusCode, 201);
      assert.equal(reg.json().email_verified, false);
      const notice = await newMails();
      assert.equal(notice.length, 1);
      assert.doesNotMatch(notice[0]!.text, /code=/);
    });

    test('two accounts claiming one unconfirmed address: the first to confirm wins, the second gets 409 ERR_EMAIL_TAKEN', async () => {
      await register(t, 'ann1', 'shared@example.com');
      await register(t, 'ann2', 'shared@example.com');
      const [first, second] = await newMails();
      assert.equal((await confirm(t, codeOf(first))).statusCode, 204);
      const lost = await confirm(t, codeOf(second));
      assert.equal(lost.statusCode, 409);
      assert.equal(lost.json().code, 'ERR_EMAIL_TAKEN');
      assert.equal((await me(t, 'ann2')).email_verified, false);
    });

    test("a registration's code does not confirm an address changed since; a change kills the reset codes mailed to the old address", async () => {
      await register(t, 'otto', 'otto@example.com');
      const registration = codeOf((await newMails())[0]);
      assert.equal((await changeEmail(t, 'otto', 'otto.new@example.com')).statusCode, 202);
      const mails = await newMails();
      const link = mails.find((m) => m.envelopeTo[0] === 'otto.new@example.com');
      const notice = mails.find((m) => m.envelopeTo[0] === 'otto@example.com');
      assert.ok(notice && !/code=/.test(notice.text), 'the old address is told, with no link');
      assert.equal((await me(t, 'otto')).email, 'otto@example.com', 'nothing changes before the confirmation');
      assert.equal((await confirm(t, codeOf(link))).statusCode, 204);
      assert.deepEqual(await me(t, 'otto'), { ...(await me(t, 'otto')), email: 'otto.new@example.com', email_verified: true });
      assert.equal((await confirm(t, registration)).json().code, 'ERR_INVALID_CODE');

      // Confirmed at the new address: a reset goes there; after another change the reset code is dead.
      await t.inject({ method: 'POST', url: '/auth/password-reset', payload: { username: 'otto' } });
      const reset = codeOf((await newMails())[0], RESET_LINK);
      await changeEmail(t, 'otto', 'otto.third@example.com');
      const third = (await newMails()).find((m) => m.envelopeTo[0] === 'otto.third@example.com');
      assert.equal((await confirm(t, codeOf(third))).statusCode, 204);
      const dead = await t.inject({
        method: 'POST',
        url: '/auth/password-reset/complete',
        payload: { code: reset, new_password: 'another strong passphrase 5' },
      });
      assert.equal(dead.json().code, 'ERR_INVALID_CODE');
    });

    test('no code in any log line or audit row', async () => {
      assert.ok(codes.length >= 8, `codes: ${codes.length}`);
      const trail = JSON.stringify([...(await t.services.audit.list({ limit: 1000 })), ...(await strict.services.audit.list({ limit: 1000 }))]);
      const lines = [...t.logs.lines, ...strict.logs.lines];
      for (const code of codes) {
        assert.ok(!trail.includes(code));
        for (const line of lines) assert.ok(!line.includes(code), line);
      }
    });
  });

  test('optional (the default): an unconfirmed account signs in; /me says the address is unconfirmed', async () => {
    assert.equal((await register(t, 'pia', 'pia@example.com')).statusCode, 201);
    await newMails();
    assert.deepEqual(await me(t, 'pia'), { ...(await me(t, 'pia')), email: 'pia@example.com', email_verified: false });
    const events = (await t.services.audit.list({ limit: 200 })).filter((r) => r.event === 'email.confirmation_requested').map((r) => r.reason);
    assert.ok(events.includes('registration') && events.includes('change') && events.includes('address_in_use'), String(events));
  });
});
