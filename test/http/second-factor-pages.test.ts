import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { CODE_REFUSED } from '../../src/http/routes/second-factor-pages.js';
import { cookieSet, FORM_HEADERS, formBody, formSession, formTokenOf, SESSION_COOKIE } from '../support/page-forms.js';
import { bearer, startTestApp, TEST_PASSWORD, type TestApp } from '../support/test-app.js';
import { authenticatorOf, type Authenticator } from '../support/totp-authenticator.js';

const STEP_MS = 30_000;
/** The middle of a time step: the code of `clock` is the code of that step only. */
const START = Math.floor(Date.parse('2026-12-03T09:00:00Z') / STEP_MS) * STEP_MS + 10_000;
const FACTOR_PAGE = '/test/factor-change-page';
const escapedRefusal = CODE_REFUSED.replaceAll("'", '&#39;');

/** A hosted page that changes factors, as /account's authenticator section would be. */
function factorChangePage(app: FastifyInstance): void {
  app.get(FACTOR_PAGE, { config: { auth: { schemes: ['session'], page: true, scopes: ['profile'], factorChange: true } } }, async () => 'factor page');
}

interface Enrolled {
  readonly username: string;
  readonly app: Authenticator;
  readonly recoveryCodes: string[];
}

/** The browser between the password step and the code step: its CSRF cookie, the page it got. */
interface PasswordStep {
  readonly res: LightMyRequestResponse;
  readonly csrfCookie: string;
  readonly token: string;
  readonly challenge: string;
}

const errorOf = (page: LightMyRequestResponse) => /<p class="alert" role="alert" id="form-error">([^<]*)<\/p>/.exec(page.body)?.[1];
const hiddenChallengeOf = (page: LightMyRequestResponse) => /name="challenge" value="([^"]+)"/.exec(page.body)?.[1];

describe('hosted second-factor pages: the code step of a sign-in, the step-up prompt', () => {
  let t: TestApp;
  let clock = START;
  let users = 0;

  before(async () => {
    t = await startTestApp({ overrides: { now: () => clock }, extraRoutes: factorChangePage });
  });
  after(() => t.close());

  /** A new user with a confirmed TOTP factor; the clock is then one step past the confirming code. */
  const enrolled = async (): Promise<Enrolled> => {
    users += 1;
    const username = `page-totp-${users}`;
    await t.register(username);
    const { access_token } = await t.login(username);
    const started = await t.inject({ method: 'POST', url: '/me/factors/totp', headers: bearer(access_token), payload: {} });
    assert.equal(started.statusCode, 201, started.body);
    const { id, otpauth_uri } = started.json<{ id: string; otpauth_uri: string }>();
    const app = authenticatorOf(otpauth_uri);
    const confirmed = await t.inject({ method: 'POST', url: `/me/factors/${id}/confirm`, headers: bearer(access_token), payload: { code: app.codeAt(clock) } });
    assert.equal(confirmed.statusCode, 200, confirmed.body);
    clock += STEP_MS;
    return { username, app, recoveryCodes: confirmed.json<{ recovery_codes: string[] }>().recovery_codes };
  };

  const passwordStep = async (username: string, returnTo?: string): Promise<PasswordStep> => {
    const { cookie, token } = await formSession(t, '/login');
    const res = await t.inject({
      method: 'POST',
      url: '/login',
      headers: { ...FORM_HEADERS, cookie },
      payload: formBody({ _csrf: token, username, password: TEST_PASSWORD, tenant: '', ...(returnTo === undefined ? {} : { return_to: returnTo }) }),
    });
    return { res, csrfCookie: cookie, token: formTokenOf(res) ?? '', challenge: hiddenChallengeOf(res) ?? '' };
  };

  const codeStep = (step: PasswordStep, code: string, extra: Record<string, string> = {}, challenge = step.challenge) =>
    t.inject({
      method: 'POST',
      url: '/login/second-factor',
      headers: { ...FORM_HEADERS, cookie: step.csrfCookie },
      payload: formBody({ _csrf: step.token, challenge, code, ...extra }),
    });

  /** Password and code through the pages: the cookie header of the new session. */
  const signedIn = async (u: Enrolled): Promise<string> => {
    const step = await passwordStep(u.username);
    const done = await codeStep(step, u.app.codeAt(clock));
    assert.equal(done.statusCode, 303, done.body);
    const session = cookieSet(done, SESSION_COOKIE);
    assert.ok(session !== undefined);
    return `${session}; ${step.csrfCookie}`;
  };
  const sessionRowOf = (cookie: string) => {
    const value = new RegExp(`${SESSION_COOKIE}=([^;]*)`).exec(cookie)?.[1] ?? '';
    return t.services.sessions.find(value.split('.')[0]!);
  };

  describe('sign-in: POST /login then POST /login/second-factor', () => {
    test('malicious: the right password alone sets no cookie; the answer is the code page with the challenge', async () => {
      const u = await enrolled();
      const step = await passwordStep(u.username, '/account?tab=security');
      assert.equal(step.res.statusCode, 200, step.res.body);
      assert.equal(cookieSet(step.res, SESSION_COOKIE), undefined, 'no session before the code');
      assert.match(step.res.body, /<h1>Two-step sign-in<\/h1>/);
      assert.match(step.res.body, /<form class="stack" method="post" action="\/login\/second-factor"/);
      assert.match(step.challenge, /\S{16,}/, 'the challenge rides in a hidden field');
      assert.match(step.res.body, /name="return_to" value="\/account\?tab=security"/);
      assert.ok(step.token.length > 0, 'a synchronizer token for the code form');
      assert.ok(!step.res.body.includes(TEST_PASSWORD), 'the password is never echoed');
      assert.equal(step.res.headers['cache-control'], 'no-store');
    });

    test('malicious: a wrong code is 400 with the one message and no cookie; the same challenge then takes the right code', async () => {
      const u = await enrolled();
      const step = await passwordStep(u.username, '/account?tab=security');
      const right = u.app.codeAt(clock);
      const refused = await codeStep(step, right === '000000' ? '000001' : '000000', { return_to: '/account?tab=security' });
      assert.equal(refused.statusCode, 400);
      assert.equal(cookieSet(refused, SESSION_COOKIE), undefined);
      assert.equal(errorOf(refused), escapedRefusal);
      assert.match(refused.body, /<a href="\/login">Sign in again<\/a>/);
      assert.equal(hiddenChallengeOf(refused), step.challenge, 'a wrong code gave the challenge back');
      assert.match(refused.body, /name="return_to" value="\/account\?tab=security"/);

      const done = await codeStep({ ...step, token: formTokenOf(refused)! }, right, { return_to: '/account?tab=security' });
      assert.equal(done.statusCode, 303, done.body);
      assert.equal(done.headers.location, '/account?tab=security');
      const session = cookieSet(done, SESSION_COOKIE);
      assert.ok(session !== undefined, 'signed in');
      assert.deepEqual((await sessionRowOf(session))?.authMethods, ['pwd', 'otp'], 'the session records both factors (AAL2)');
      const account = await t.inject({ method: 'GET', url: '/account', headers: { cookie: session } });
      assert.equal(account.statusCode, 200);
    });

    test('malicious: an unknown challenge, a used one and a recovery code of another account all read like a wrong code', async () => {
      const u = await enrolled();
      const other = await enrolled();
      const step = await passwordStep(u.username);
      const answers = [await codeStep(step, u.app.codeAt(clock), {}, 'ghm_not-a-challenge-we-issued'), await codeStep(step, other.recoveryCodes[0]!)];
      const done = await codeStep(step, u.app.codeAt(clock));
      assert.equal(done.statusCode, 303, 'the right code still works on the real challenge');
      clock += STEP_MS;
      answers.push(await codeStep(step, u.app.codeAt(clock)), await codeStep(step, u.recoveryCodes[0]!));
      for (const [i, res] of answers.entries()) {
        assert.equal(res.statusCode, 400, `answer ${i}`);
        assert.equal(errorOf(res), escapedRefusal, `answer ${i}`);
        assert.equal(cookieSet(res, SESSION_COOKIE), undefined, `answer ${i}`);
      }
      const reasons = t.logs
        .records()
        .filter((r) => r.msg === 'second factor refused')
        .map((r) => String(r.reason));
      assert.ok(reasons.some((r) => r.includes('challenge_unknown_used_or_expired')) && reasons.some((r) => r.includes('wrong_code')), 'the log says which');
    });

    test('malicious: without the synchronizer token, or with another browser’s, the code is not even tried', async () => {
      const u = await enrolled();
      const step = await passwordStep(u.username);
      const stranger = await formSession(t, '/login');
      for (const [name, cookie, fields] of [
        ['no token', step.csrfCookie, {}],
        ['no CSRF cookie', undefined, { _csrf: step.token }],
        ['another browser’s token', step.csrfCookie, { _csrf: stranger.token }],
      ] as const) {
        const res = await t.inject({
          method: 'POST',
          url: '/login/second-factor',
          headers: { ...FORM_HEADERS, ...(cookie === undefined ? {} : { cookie }) },
          payload: formBody({ ...fields, challenge: step.challenge, code: u.app.codeAt(clock) }),
        });
        assert.equal(res.statusCode, 403, name);
        assert.match(res.body, /<h1>Request refused<\/h1>/, name);
        assert.equal(cookieSet(res, SESSION_COOKIE), undefined, name);
      }
      const crossSite = await t.inject({
        method: 'POST',
        url: '/login/second-factor',
        headers: { ...FORM_HEADERS, 'sec-fetch-site': 'cross-site', cookie: step.csrfCookie },
        payload: formBody({ _csrf: step.token, challenge: step.challenge, code: u.app.codeAt(clock) }),
      });
      assert.equal(crossSite.statusCode, 403, 'posted from another site');
      assert.equal(cookieSet(crossSite, SESSION_COOKIE), undefined);
      // None of them spent the challenge nor the code: the real form still goes through.
      assert.equal((await codeStep(step, u.app.codeAt(clock))).statusCode, 303);
    });

    test('malicious: a return_to to another site is neither carried nor followed', async () => {
      for (const evil of ['https://evil.example/steal', '//evil.example/steal', '/\\evil.example', 'javascript:alert(1)']) {
        const u = await enrolled();
        const step = await passwordStep(u.username, evil);
        assert.equal(step.res.statusCode, 200);
        assert.doesNotMatch(step.res.body, /evil|javascript/, evil);
        const done = await codeStep(step, u.app.codeAt(clock), { return_to: evil });
        assert.equal(done.statusCode, 303, evil);
        assert.equal(done.headers.location, '/account', evil);
      }
    });

    test('malicious: past the per-account code limit even the right code is the 429 page with Retry-After', async () => {
      const u = await enrolled();
      const first = await passwordStep(u.username);
      const wrong = u.app.codeAt(clock) === '000000' ? '000001' : '000000';
      let token = first.token;
      for (let i = 0; i < 5; i += 1) {
        const res = await codeStep({ ...first, token }, wrong);
        assert.equal(res.statusCode, 400, `wrong code ${i + 1}`);
        token = formTokenOf(res)!;
      }
      const second = await passwordStep(u.username);
      const throttled = await codeStep(second, u.app.codeAt(clock));
      assert.equal(throttled.statusCode, 429);
      assert.match(String(throttled.headers['retry-after']), /^\d+$/);
      assert.match(throttled.headers['content-type'] as string, /^text\/html/);
      assert.match(throttled.body, /<h1>Too many attempts<\/h1>/);
      assert.equal(cookieSet(throttled, SESSION_COOKIE), undefined);
    });

    test('a recovery code in the same field signs in too, once', async () => {
      const u = await enrolled();
      const step = await passwordStep(u.username);
      const done = await codeStep(step, u.recoveryCodes[1]!);
      assert.equal(done.statusCode, 303, done.body);
      assert.ok(cookieSet(done, SESSION_COOKIE) !== undefined);
      const again = await codeStep(await passwordStep(u.username), u.recoveryCodes[1]!);
      assert.equal(again.statusCode, 400);
    });

    test('an account without a second factor is signed in by POST /login as before', async () => {
      await t.register('page-no-factor');
      const step = await passwordStep('page-no-factor');
      assert.equal(step.res.statusCode, 303);
      assert.ok(cookieSet(step.res, SESSION_COOKIE) !== undefined);
    });
  });

  describe('step-up: GET /login/second-factor, POST /login/step-up', () => {
    const stepUpPrompt = async (cookie: string, returnTo = FACTOR_PAGE) => {
      const res = await t.inject({ method: 'GET', url: `/login/second-factor?return_to=${encodeURIComponent(returnTo)}`, headers: { cookie } });
      return { res, token: formTokenOf(res) ?? '' };
    };
    const postStepUp = (cookie: string, token: string, code: string, returnTo: string = FACTOR_PAGE) =>
      t.inject({ method: 'POST', url: '/login/step-up', headers: { ...FORM_HEADERS, cookie }, payload: formBody({ _csrf: token, code, return_to: returnTo }) });

    test('malicious: an old sign-in is sent from a factor-change page to the prompt; not signed in, the prompt sends to /login', async () => {
      const u = await enrolled();
      const cookie = await signedIn(u);
      assert.equal((await t.inject({ method: 'GET', url: FACTOR_PAGE, headers: { cookie } })).statusCode, 200, 'a fresh two-factor sign-in passes');
      clock += 6 * 60_000;
      const old = await t.inject({ method: 'GET', url: FACTOR_PAGE, headers: { cookie } });
      assert.equal(old.statusCode, 303);
      assert.equal(old.headers.location, `/login/second-factor?return_to=${encodeURIComponent(FACTOR_PAGE)}`);

      const { res } = await stepUpPrompt(cookie);
      assert.equal(res.statusCode, 200);
      assert.match(res.body, /<h1>Confirm it is you<\/h1>/);
      assert.match(res.body, /action="\/login\/step-up"/);
      assert.match(res.body, new RegExp(`name="return_to" value="${FACTOR_PAGE}"`));
      assert.doesNotMatch(res.body, /name="challenge"/);

      const anonymous = await t.inject({ method: 'GET', url: `/login/second-factor?return_to=${encodeURIComponent(FACTOR_PAGE)}` });
      assert.equal(anonymous.statusCode, 303);
      assert.match(String(anonymous.headers.location), /^\/login\?return_to=/);
    });

    test('malicious: a wrong code is 400 with the message and changes nothing; the right code makes the session AAL2 now', async () => {
      const u = await enrolled();
      const cookie = await signedIn(u);
      clock += 6 * 60_000;
      const before = (await sessionRowOf(cookie))?.authTime;
      const { token } = await stepUpPrompt(cookie);
      const right = u.app.codeAt(clock);
      const refused = await postStepUp(cookie, token, right === '000000' ? '000001' : '000000');
      assert.equal(refused.statusCode, 400);
      assert.equal(errorOf(refused), escapedRefusal);
      assert.match(refused.body, /action="\/login\/step-up"/);
      assert.deepEqual((await sessionRowOf(cookie))?.authTime, before, 'a wrong code records nothing');
      assert.equal((await t.inject({ method: 'GET', url: FACTOR_PAGE, headers: { cookie } })).statusCode, 303, 'still refused');

      const done = await postStepUp(cookie, formTokenOf(refused)!, right);
      assert.equal(done.statusCode, 303, done.body);
      assert.equal(done.headers.location, FACTOR_PAGE);
      const row = await sessionRowOf(cookie);
      assert.deepEqual(row?.authMethods, ['pwd', 'otp']);
      assert.equal(row?.authTime.getTime(), Math.floor(clock / 1000) * 1000, 'the two-factor authentication is as of now');
      assert.equal((await t.inject({ method: 'GET', url: FACTOR_PAGE, headers: { cookie } })).statusCode, 200, 'the factor-change page now opens');
    });

    test('malicious: a step-up without the synchronizer token, or from another site, is refused and records nothing', async () => {
      const u = await enrolled();
      const cookie = await signedIn(u);
      clock += 6 * 60_000;
      const before = (await sessionRowOf(cookie))?.authTime;
      const stranger = await formSession(t, '/login');
      for (const [name, fields, headers] of [
        ['no token', { code: u.app.codeAt(clock) }, {}],
        ['another browser’s token', { _csrf: stranger.token, code: u.app.codeAt(clock) }, {}],
        ['cross-site', { _csrf: (await stepUpPrompt(cookie)).token, code: u.app.codeAt(clock) }, { 'sec-fetch-site': 'cross-site' }],
      ] as const) {
        const res = await t.inject({ method: 'POST', url: '/login/step-up', headers: { ...FORM_HEADERS, cookie, ...headers }, payload: formBody(fields) });
        assert.equal(res.statusCode, 403, name);
      }
      assert.deepEqual((await sessionRowOf(cookie))?.authTime, before);
      assert.equal((await t.inject({ method: 'GET', url: FACTOR_PAGE, headers: { cookie } })).statusCode, 303);
    });

    test('malicious: a step-up returning to another site goes to /account instead', async () => {
      const u = await enrolled();
      const cookie = await signedIn(u);
      clock += STEP_MS;
      const { res, token } = await stepUpPrompt(cookie, 'https://evil.example/');
      assert.doesNotMatch(res.body, /evil\.example/);
      const done = await postStepUp(cookie, token, u.app.codeAt(clock), 'https://evil.example/');
      assert.equal(done.statusCode, 303);
      assert.equal(done.headers.location, '/account');
    });

    test('malicious: past the per-account code limit the step-up is the 429 page', async () => {
      const u = await enrolled();
      const cookie = await signedIn(u);
      clock += STEP_MS;
      let { token } = await stepUpPrompt(cookie);
      const wrong = u.app.codeAt(clock) === '000000' ? '000001' : '000000';
      for (let i = 0; i < 5; i += 1) {
        const res = await postStepUp(cookie, token, wrong);
        assert.equal(res.statusCode, 400);
        token = formTokenOf(res)!;
      }
      const throttled = await postStepUp(cookie, token, u.app.codeAt(clock));
      assert.equal(throttled.statusCode, 429);
      assert.match(String(throttled.headers['retry-after']), /^\d+$/);
      assert.match(throttled.body, /<h1>Too many attempts<\/h1>/);
    });
  });
});
