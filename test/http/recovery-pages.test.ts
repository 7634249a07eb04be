import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { eq } from 'drizzle-orm';
import type { LightMyRequestResponse } from 'fastify';
import { users } from '../../src/stores/db/schema.js';
import { startSmtpSink, type SmtpSink } from '../support/smtp-sink.js';
import { startTestApp, TEST_PASSWORD, type TestApp } from '../support/test-app.js';

// What a browser sends with a form posted from one of our own pages (Fetch Metadata, layer 1).
const FORM = { 'content-type': 'application/x-www-form-urlencoded', 'sec-fetch-site': 'same-origin' };
const form = (fields: Record<string, string>) => new URLSearchParams(fields).toString();
const NEW_PASSWORD = 'a new page-set passphrase 31';

/** The CSRF cookie and the form token of a fresh GET of `url`: what a browser holds. */
async function formSession(t: TestApp, url: string): Promise<{ cookie: string; token: string; page: LightMyRequestResponse }> {
  const page = await t.inject({ method: 'GET', url });
  const cookie = [page.headers['set-cookie'] ?? []]
    .flat()
    .map((c) => c.split(';')[0]!)
    .find((c) => c.startsWith('__Host-gatehouse_csrf='));
  const token = /name="_csrf" value="([^"]+)"/.exec(page.body)?.[1];
  assert.ok(cookie !== undefined && token !== undefined, `${url} sets a CSRF cookie and carries a token`);
  return { cookie, token, page };
}

describe('hosted pages: forgot password, reset password, confirm email', () => {
  let sink: SmtpSink;
  let t: TestApp;
  const codes: string[] = [];
  const mailsSince = async (count: number) => {
    await t.services.backgroundWork.settled();
    const fresh = sink.received.slice(count);
    for (const m of fresh) for (const c of m.text.matchAll(/code=([A-Za-z0-9_-]{43})/g)) codes.push(c[1]!);
    return fresh;
  };
  const post = (url: string, session: { cookie: string }, fields: Record<string, string>) =>
    t.inject({ method: 'POST', url, headers: { ...FORM, cookie: session.cookie }, payload: form(fields) });

  before(async () => {
    sink = await startSmtpSink();
    t = await startTestApp({ env: { GATEHOUSE_SMTP_URL: sink.url, GATEHOUSE_LIMIT_MAIL_ACCOUNT: '1000/1m' } });
    const res = await t.inject({ method: 'POST', url: '/auth/register', payload: { username: 'paula', email: 'paula@example.com', password: TEST_PASSWORD } });
    assert.equal(res.statusCode, 201);
    await mailsSince(0);
    await t.services.database.db.update(users).set({ emailVerifiedAt: new Date() }).where(eq(users.id, res.json().id));
  });
  after(async () => {
    await t.close();
    await sink.close();
  });

  test('the sign-in page links to "Forgot password?"', async () => {
    const login = await t.inject({ method: 'GET', url: '/login' });
    assert.match(login.body, /<a href="\/forgot-password">Forgot password\?<\/a>/);
  });

  describe('malicious', () => {
    test('a forgot-password post without the synchronizer token, or cross-site, is refused 403 and mails nothing', async () => {
      const before = sink.received.length;
      const victim = await formSession(t, '/forgot-password');
      const noToken = await post('/forgot-password', victim, { account: 'paula' });
      assert.equal(noToken.statusCode, 403);
      const crossSite = await t.inject({
        method: 'POST',
        url: '/forgot-password',
        headers: { ...FORM, 'sec-fetch-site': 'cross-site', cookie: victim.cookie },
        payload: form({ _csrf: victim.token, account: 'paula' }),
      });
      assert.equal(crossSite.statusCode, 403);
      assert.equal((await mailsSince(before)).length, 0);
    });

    test('an account and no account: the same page; only the account is mailed', async () => {
      const before = sink.received.length;
      const answers: string[] = [];
      for (const account of ['paula', 'PAULA@example.com', 'nobody-here', 'nobody@example.com']) {
        const session = await formSession(t, '/forgot-password');
        const res = await post('/forgot-password', session, { _csrf: session.token, account });
        assert.equal(res.statusCode, 200);
        answers.push(res.body.replace(/name="_csrf" value="[^"]+"/, ''));
      }
      assert.ok(answers.every((a) => a === answers[0]));
      assert.match(answers[0]!, /If the account exists and has a confirmed email address/);
      const mails = await mailsSince(before);
      assert.deepEqual(
        mails.map((m) => m.envelopeTo[0]),
        ['paula@example.com', 'paula@example.com'],
      );
    });

    test('opening the link spends nothing (a mail scanner may follow it); a reset post without the token is refused', async () => {
      const code = codes.at(-1)!;
      const page = await formSession(t, `/reset-password?code=${code}`);
      assert.equal(page.page.statusCode, 200);
      assert.equal(page.page.headers['referrer-policy'], 'no-referrer');
      assert.ok(page.page.body.includes(`name="code" value="${code}"`));
      const noToken = await post('/reset-password', page, { code, new_password: NEW_PASSWORD });
      assert.equal(noToken.statusCode, 403);
      await t.login('paula', TEST_PASSWORD);
      const again = await t.inject({ method: 'GET', url: `/reset-password?code=${code}` });
      assert.ok(again.body.includes(`name="code" value="${code}"`), 'still a form: the code is unspent');
    });

    test('a dead link: the page says so, with the way to ask again', async () => {
      const session = await formSession(t, '/reset-password?code=x');
      const res = await post('/reset-password', session, { _csrf: session.token, code: 'A'.repeat(43), new_password: NEW_PASSWORD });
      assert.equal(res.statusCode, 400);
      assert.match(res.body, /invalid, already used or expired/);
      assert.match(res.body, /href="\/forgot-password"/);
    });
  });

  test('reset through the pages: a refused password keeps the link; the new one signs in; no code in the log', async () => {
    const code = codes.at(-1)!;
    const session = await formSession(t, `/reset-password?code=${code}`);
    const weak = await post('/reset-password', session, { _csrf: session.token, code, new_password: 'password' });
    assert.equal(weak.statusCode, 400);
    assert.match(weak.body, /Password not accepted/);
    assert.ok(weak.body.includes(`name="code" value="${code}"`));
    const next = /name="_csrf" value="([^"]+)"/.exec(weak.body)![1]!;
    const done = await post('/reset-password', session, { _csrf: next, code, new_password: NEW_PASSWORD });
    assert.equal(done.statusCode, 200, done.body);
    assert.match(done.body, /Your password has been changed/);
    await t.login('paula', NEW_PASSWORD);
    for (const c of codes) for (const line of t.logs.lines) assert.ok(!line.includes(c), line);
  });

  test('confirm email through the pages: the link shows a button; posting it confirms the address', async () => {
    const before = sink.received.length;
    const reg = await t.inject({ method: 'POST', url: '/auth/register', payload: { username: 'quinn', email: 'quinn@example.com', password: TEST_PASSWORD } });
    assert.equal(reg.statusCode, 201);
    const [mail] = await mailsSince(before);
    const code = /confirm-email\?code=([A-Za-z0-9_-]{43})/.exec(mail!.text)![1]!;
    const session = await formSession(t, `/confirm-email?code=${code}`);
    assert.ok(session.page.body.includes(`name="code" value="${code}"`));
    const [row] = await t.services.database.db.select().from(users).where(eq(users.id, reg.json().id));
    assert.equal(row?.emailVerifiedAt, null, 'opening the link confirms nothing');
    const done = await post('/confirm-email', session, { _csrf: session.token, code });
    assert.equal(done.statusCode, 200, done.body);
    assert.match(done.body, /Your email address is confirmed/);
    const again = await post('/confirm-email', session, { _csrf: /name="_csrf" value="([^"]+)"/.exec(done.body)?.[1] ?? session.token, code });
    assert.equal(again.statusCode, 400);
  });
});

describe('hosted registration with GATEHOUSE_EMAIL_VERIFICATION=required', () => {
  test('the address is a required field; the account is told to confirm it instead of being signed in', async () => {
    const sink = await startSmtpSink();
    const t = await startTestApp({ env: { GATEHOUSE_SMTP_URL: sink.url, GATEHOUSE_EMAIL_VERIFICATION: 'required' } });
    try {
      const session = await formSession(t, '/register');
      assert.match(session.page.body, /<input id="email" name="email" type="email"[^>]*required/);
      const without = await t.inject({
        method: 'POST',
        url: '/register',
        headers: { ...FORM, cookie: session.cookie },
        payload: form({ _csrf: session.token, username: 'rita', email: '', password: TEST_PASSWORD }),
      });
      assert.equal(without.statusCode, 400);
      assert.match(without.body, /id="email-error">is required/);
      const next = await formSession(t, '/register');
      const created = await t.inject({
        method: 'POST',
        url: '/register',
        headers: { ...FORM, cookie: next.cookie },
        payload: form({ _csrf: next.token, username: 'rita', email: 'rita@example.com', password: TEST_PASSWORD }),
      });
      assert.equal(created.statusCode, 201, created.body);
      assert.match(created.body, /Open the link we mailed to your address/);
      assert.equal([created.headers['set-cookie'] ?? []].flat().filter((c) => c.startsWith('__Host-gatehouse_session')).length, 0, 'not signed in');
      await t.services.backgroundWork.settled();
      assert.deepEqual(
        sink.received.map((m) => m.envelopeTo[0]),
        ['rita@example.com'],
      );
    } finally {
      await t.close();
      await sink.close();
    }
  });
});

describe('hosted pages without mail (production, no GATEHOUSE_SMTP_URL)', () => {
  test('no "Forgot password?" link, and the pages answer 404', async () => {
    const t = await startTestApp({ env: { GATEHOUSE_ENV: 'production', GATEHOUSE_SIGNING_KEYS: '/given/in/code.json' } });
    try {
      assert.doesNotMatch((await t.inject({ method: 'GET', url: '/login' })).body, /forgot-password/);
      for (const url of ['/forgot-password', '/reset-password?code=x', '/confirm-email?code=x']) {
        assert.equal((await t.inject({ method: 'GET', url })).statusCode, 404, url);
      }
    } finally {
      await t.close();
    }
  });
});
