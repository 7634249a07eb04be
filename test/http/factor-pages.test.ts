import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { LightMyRequestResponse } from 'fastify';
import { Secret, TOTP } from 'otpauth';
import { cookieSet, FORM_HEADERS, formBody, formSession, formTokenOf, SESSION_COOKIE } from '../support/page-forms.js';
import { startTestApp, TEST_PASSWORD, type TestApp } from '../support/test-app.js';

const STEP_MS = 30_000;
/** The middle of a time step: the code of `clock` is the code of that step only. */
const START = Math.floor(Date.parse('2026-12-03T11:00:00Z') / STEP_MS) * STEP_MS + 10_000;

/** A browser signed in through the hosted pages: its cookie header (session + CSRF) and a form token. */
interface Browser {
  readonly cookie: string;
  token: string;
}

/** What the set-up page shows: the factor id its form confirms, and the key typed into an app. */
const setupOf = (page: LightMyRequestResponse) => ({
  factorId: /action="\/account\/totp\/([0-9a-f-]{36})\/confirm"/.exec(page.body)?.[1] ?? '',
  secret: (/<code id="totp-secret">([A-Z2-7 ]+)<\/code>/.exec(page.body)?.[1] ?? '').replaceAll(' ', ''),
});
const codeOf = (secret: string, at: number) => TOTP.generate({ secret: Secret.fromBase32(secret), timestamp: at });
const recoveryCodesOf = (page: LightMyRequestResponse) => [...page.body.matchAll(/<li><code>([a-z2-7-]+)<\/code><\/li>/g)].map((m) => m[1]!);

describe('the authenticator app on /account (hosted forms)', () => {
  let t: TestApp;
  let clock = START;
  let users = 0;

  before(async () => {
    t = await startTestApp({ overrides: { now: () => clock } });
  });
  after(() => t.close());

  /** A new user, signed in with the password through /login just now. */
  const signedIn = async (): Promise<Browser & { username: string }> => {
    users += 1;
    const username = `factor-page-${users}`;
    await t.register(username);
    const { cookie: csrf, token } = await formSession(t, '/login');
    const res = await t.inject({
      method: 'POST',
      url: '/login',
      headers: { ...FORM_HEADERS, cookie: csrf },
      payload: formBody({ _csrf: token, username, password: TEST_PASSWORD, tenant: '' }),
    });
    assert.equal(res.statusCode, 303, res.body);
    const session = cookieSet(res, SESSION_COOKIE);
    assert.ok(session !== undefined);
    const cookie = `${session}; ${csrf}`;
    const account = await t.inject({ method: 'GET', url: '/account', headers: { cookie } });
    return { username, cookie, token: formTokenOf(account)! };
  };
  const post = async (browser: Browser, url: string, fields: Record<string, string> = {}, headers: Record<string, string> = {}) => {
    const res = await t.inject({
      method: 'POST',
      url,
      headers: { ...FORM_HEADERS, cookie: browser.cookie, ...headers },
      payload: formBody({ _csrf: browser.token, ...fields }),
    });
    browser.token = formTokenOf(res) ?? browser.token;
    return res;
  };
  /** Set up and confirm an app through the forms; the clock is then a step past the confirming code. */
  const withApp = async (browser: Browser) => {
    const setup = setupOf(await post(browser, '/account/totp'));
    const confirmed = await post(browser, `/account/totp/${setup.factorId}/confirm`, { code: codeOf(setup.secret, clock) });
    assert.equal(confirmed.statusCode, 200, confirmed.body);
    clock += STEP_MS;
    return { ...setup, recoveryCodes: recoveryCodesOf(confirmed) };
  };
  const confirmedFactors = async (username: string) => {
    const user = await t.services.users.findByUsernameKey(username);
    return (await t.services.factors.store.listOfUser(user!.id)).filter((f) => f.confirmedAt !== null);
  };

  describe('malicious', () => {
    test('a stolen session older than 5 minutes cannot set up an app: to the step-up prompt, nothing enrolled', async () => {
      const browser = await signedIn();
      clock += 301_000;
      const res = await post(browser, '/account/totp');
      assert.equal(res.statusCode, 303);
      // A form post cannot be replayed by a redirect: the prompt leads back to /account.
      assert.equal(res.headers.location, '/login/second-factor');
      const user = await t.services.users.findByUsernameKey(browser.username);
      assert.equal((await t.services.factors.store.listOfUser(user!.id)).length, 0);
    });

    test('the forms are refused from another site and without the synchronizer token', async () => {
      const browser = await signedIn();
      assert.equal((await post(browser, '/account/totp', {}, { 'sec-fetch-site': 'cross-site' })).statusCode, 403);
      const noToken = await t.inject({ method: 'POST', url: '/account/totp', headers: { ...FORM_HEADERS, cookie: browser.cookie }, payload: '' });
      assert.equal(noToken.statusCode, 403);
      const user = await t.services.users.findByUsernameKey(browser.username);
      assert.equal((await t.services.factors.store.listOfUser(user!.id)).length, 0);
    });

    test('a wrong first code: 400, the same QR code and key again, nothing confirmed', async () => {
      const browser = await signedIn();
      const page = await post(browser, '/account/totp');
      const setup = setupOf(page);
      const right = codeOf(setup.secret, clock);
      const refused = await post(browser, `/account/totp/${setup.factorId}/confirm`, { code: right === '000000' ? '000001' : '000000' });
      assert.equal(refused.statusCode, 400);
      assert.deepEqual(setupOf(refused), setup);
      assert.equal((await confirmedFactors(browser.username)).length, 0);
      assert.equal((await post(browser, `/account/totp/${setup.factorId}/confirm`, { code: right })).statusCode, 200);
    });

    test('once an app is set up, a password-only sign-in can neither remove it nor renew the codes; a step-up with a code can', async () => {
      const first = await signedIn();
      const app = await withApp(first);
      // A sign-in older than 5 minutes (and with the password only) is sent to the prompt.
      clock += 301_000;
      const removal = await post(first, `/account/factors/${app.factorId}/remove`);
      assert.equal(removal.statusCode, 303);
      assert.equal(removal.headers.location, '/login/second-factor');
      assert.equal((await post(first, '/account/recovery-codes')).headers.location, '/login/second-factor');
      assert.equal((await confirmedFactors(first.username)).length, 1);
      const prompt = await t.inject({ method: 'GET', url: '/login/second-factor', headers: { cookie: first.cookie } });
      first.token = formTokenOf(prompt)!;
      const stepped = await post(first, '/login/step-up', { code: codeOf(app.secret, clock) });
      assert.equal(stepped.statusCode, 303, stepped.body);
      assert.equal(stepped.headers.location, '/account');
      const account = await t.inject({ method: 'GET', url: '/account', headers: { cookie: first.cookie } });
      first.token = formTokenOf(account)!;
      const renewed = await post(first, '/account/recovery-codes');
      assert.equal(renewed.statusCode, 200);
      assert.equal(renewed.headers['cache-control'], 'no-store');
      const codes = recoveryCodesOf(renewed);
      assert.equal(codes.length, 10);
      assert.ok(!codes.includes(app.recoveryCodes[0]!), 'a new set');
      const removed = await post(first, `/account/factors/${app.factorId}/remove`);
      assert.equal(removed.statusCode, 303);
      assert.equal(removed.headers.location, '/account?done=factor_removed');
      assert.equal((await confirmedFactors(first.username)).length, 0);
    });
  });

  test('set up an app: the QR code and key, a first code, the 10 recovery codes once; /account lists it; the next sign-in asks for a code', async () => {
    const browser = await signedIn();
    const account = await t.inject({ method: 'GET', url: '/account', headers: { cookie: browser.cookie } });
    assert.match(account.body, /Set up an authenticator app/);
    const page = await post(browser, '/account/totp');
    assert.equal(page.statusCode, 200);
    assert.equal(page.headers['cache-control'], 'no-store');
    assert.match(page.body, /<figure class="qr"[^>]*><svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
    const setup = setupOf(page);
    assert.match(setup.secret, /^[A-Z2-7]{32}$/);
    const confirmed = await post(browser, `/account/totp/${setup.factorId}/confirm`, { code: codeOf(setup.secret, clock) });
    assert.equal(confirmed.statusCode, 200);
    assert.equal(confirmed.headers['cache-control'], 'no-store');
    const codes = recoveryCodesOf(confirmed);
    assert.equal(codes.length, 10);
    const after = await t.inject({ method: 'GET', url: '/account', headers: { cookie: browser.cookie } });
    assert.match(after.body, /Recovery codes left: <strong>10<\/strong>/);
    assert.match(after.body, /Remove this app/);
    assert.ok(!after.body.includes(setup.secret), 'the key is never shown again');
    const { cookie: csrf, token } = await formSession(t, '/login');
    const next = await t.inject({
      method: 'POST',
      url: '/login',
      headers: { ...FORM_HEADERS, cookie: csrf },
      payload: formBody({ _csrf: token, username: browser.username, password: TEST_PASSWORD, tenant: '' }),
    });
    assert.equal(next.statusCode, 200);
    assert.match(next.body, /Two-step sign-in/);
    assert.equal(cookieSet(next, SESSION_COOKIE), undefined);
  });
});
