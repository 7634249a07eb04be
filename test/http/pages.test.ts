import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { LightMyRequestResponse } from 'fastify';
import { usernameKey } from '../../src/users/username.js';
import { startTestApp, TEST_ISSUER, TEST_PASSWORD, type TestApp } from '../support/test-app.js';

const PAGE_CSP = "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";
/** The pages with passkey buttons (/login, /account) may also run their one same-origin script and fetch from here; never inline script. */
const SCRIPT_CSP = PAGE_CSP.replace("default-src 'none';", "default-src 'none'; script-src 'self'; connect-src 'self';");
// What a browser sends with a form posted from one of our own pages (Fetch Metadata, layer 1).
const FORM = { 'content-type': 'application/x-www-form-urlencoded', 'sec-fetch-site': 'same-origin' };

/** The CSRF cookie (name=value) and the form token of a fresh GET of `url`: what a browser holds. */
async function formSession(t: TestApp, url = '/register'): Promise<{ cookie: string; token: string; page: LightMyRequestResponse }> {
  const page = await t.inject({ method: 'GET', url });
  const setCookie = [page.headers['set-cookie'] ?? []].flat();
  const cookie = setCookie.map((c) => c.split(';')[0]!).find((c) => c.startsWith('__Host-gatehouse_csrf='));
  const token = /name="_csrf" value="([^"]+)"/.exec(page.body)?.[1];
  assert.ok(cookie !== undefined && token !== undefined, 'the page sets a CSRF cookie and carries a token');
  return { cookie, token, page };
}

const userNamed = (t: TestApp, username: string) => t.services.users.findByUsernameKey(usernameKey(username));
const form = (fields: Record<string, string>) => new URLSearchParams(fields).toString();

describe('hosted pages over HTTP', () => {
  let t: TestApp;
  before(async () => {
    t = await startTestApp({ env: { GATEHOUSE_LIMIT_REGISTER_IP: '100/1h' } });
  });
  after(() => t.close());

  test('a registration without the synchronizer token, or with another browser’s, is refused 403 and creates nothing', async () => {
    const victim = await formSession(t);
    const attacker = await formSession(t);
    // Chosen by the characters it replaces, so the token always changes.
    const wrongToken = `${victim.token.slice(0, -2)}${victim.token.endsWith('xx') ? 'yy' : 'xx'}`;
    assert.notEqual(wrongToken, victim.token);
    const attempts = [
      { name: 'no token', cookie: victim.cookie, fields: {} },
      { name: 'no cookie', cookie: undefined, fields: { _csrf: victim.token } },
      { name: 'wrong token', cookie: victim.cookie, fields: { _csrf: wrongToken } },
      { name: "the attacker's own valid token", cookie: victim.cookie, fields: { _csrf: attacker.token } },
      { name: 'a planted cookie of another shape', cookie: '__Host-gatehouse_csrf=planted', fields: { _csrf: victim.token } },
    ];
    for (const [i, attempt] of attempts.entries()) {
      const username = `csrf-victim-${i}`;
      const res = await t.inject({
        method: 'POST',
        url: '/register',
        headers: { ...FORM, ...(attempt.cookie === undefined ? {} : { cookie: attempt.cookie }) },
        payload: form({ ...attempt.fields, username, password: TEST_PASSWORD }),
      });
      assert.equal(res.statusCode, 403, attempt.name);
      assert.match(res.headers['content-type'] as string, /^text\/html/);
      assert.match(res.body, /<h1>Request refused<\/h1>/);
      assert.equal(res.headers['content-security-policy'], PAGE_CSP);
      assert.equal(await userNamed(t, username), undefined, attempt.name);
    }
    const refusals = t.logs.records().filter((r) => r.err_code === 'ERR_CSRF');
    assert.deepEqual(
      refusals.map((r) => r.reason),
      ['no_token', 'no_secret', 'token_mismatch', 'token_mismatch', 'no_secret'].map((why) => `csrf layer synchronizer-token: ${why}`),
    );
  });

  test('a page form posted from another site is refused before its token is looked at (layers 1 and 2)', async () => {
    const { cookie, token } = await formSession(t);
    const fields = (username: string) => form({ _csrf: token, username, password: TEST_PASSWORD });
    const crossSite = [
      { name: 'Sec-Fetch-Site: cross-site', headers: { 'sec-fetch-site': 'cross-site' } },
      { name: 'Sec-Fetch-Site: same-site', headers: { 'sec-fetch-site': 'same-site' } },
      { name: 'no Fetch Metadata, a foreign Origin', headers: { origin: 'http://127.0.0.2:8080' } },
      { name: 'no Fetch Metadata, no Origin, no Referer', headers: {} },
    ];
    for (const [i, attempt] of crossSite.entries()) {
      const username = `cross-site-${i}`;
      const res = await t.inject({
        method: 'POST',
        url: '/register',
        headers: { 'content-type': 'application/x-www-form-urlencoded', cookie, ...attempt.headers },
        payload: fields(username),
      });
      assert.equal(res.statusCode, 403, attempt.name);
      assert.match(res.body, /<h1>Request refused<\/h1>/);
      assert.equal(await userNamed(t, username), undefined, attempt.name);
    }
    const res = await t.inject({
      method: 'POST',
      url: '/register',
      headers: { 'content-type': 'application/x-www-form-urlencoded', cookie, origin: TEST_ISSUER },
      payload: fields('same-origin-by-origin'),
    });
    assert.equal(res.statusCode, 303, 'the issuer as Origin passes');
  });

  test('a JSON body to a page form is refused 415', async () => {
    const { cookie, token } = await formSession(t);
    const res = await t.inject({
      method: 'POST',
      url: '/register',
      headers: { cookie, 'content-type': 'application/json', 'sec-fetch-site': 'same-origin' },
      payload: { _csrf: token, username: 'json-page', password: TEST_PASSWORD },
    });
    assert.equal(res.statusCode, 415);
    assert.equal(await userNamed(t, 'json-page'), undefined);
  });

  test('the CSRF secret cookie is __Host-, Secure, HttpOnly, SameSite=Strict, Path=/, no Domain', async () => {
    const res = await t.inject({ method: 'GET', url: '/login' });
    const [cookie] = [res.headers['set-cookie'] ?? []].flat();
    assert.ok(cookie !== undefined);
    const attributes = cookie.split(';').map((a) => a.trim().toLowerCase());
    assert.match(attributes[0]!, /^__host-gatehouse_csrf=[a-z0-9_-]{43}$/);
    for (const a of ['secure', 'httponly', 'samesite=strict', 'path=/']) assert.ok(attributes.includes(a), a);
    assert.ok(!attributes.some((a) => a.startsWith('domain=')));
  });

  test('a registration with the token goes through; a refusal shows the form again without the password', async () => {
    const { cookie, token } = await formSession(t);
    const weak = 'password1234';
    const refused = await t.inject({
      method: 'POST',
      url: '/register',
      headers: { ...FORM, cookie },
      payload: form({ _csrf: token, username: 'page-user', password: weak }),
    });
    assert.equal(refused.statusCode, 400);
    assert.ok(!refused.body.includes(weak), 'the password is never echoed');
    assert.match(refused.body, /value="page-user"/);

    const res = await t.inject({
      method: 'POST',
      url: '/register',
      headers: { ...FORM, cookie },
      payload: form({ _csrf: token, username: 'page-user', password: TEST_PASSWORD }),
    });
    assert.equal(res.statusCode, 303);
    assert.equal(res.headers.location, '/account');
    assert.match([res.headers['set-cookie'] ?? []].flat().join('\n'), /^__Host-gatehouse_session=/m, 'signed in at once');
    assert.ok((await userNamed(t, 'page-user')) !== undefined);
  });

  test('pages carry the strict CSP, DENY framing and no-store; other routes keep the app-wide headers', async () => {
    for (const url of ['/login', '/register', '/logout', '/login?return_to=%2Faccount']) {
      const res = await t.inject({ method: 'GET', url });
      assert.equal(res.statusCode, 200, url);
      assert.equal(res.headers['content-security-policy'], url.startsWith('/login') ? SCRIPT_CSP : PAGE_CSP, url);
      assert.doesNotMatch(String(res.headers['content-security-policy']), /unsafe-inline|unsafe-eval/, url);
      assert.equal(res.headers['x-frame-options'], 'DENY', url);
      assert.equal(res.headers['cache-control'], 'no-store', url);
      assert.match(res.headers['content-type'] as string, /^text\/html; charset=utf-8/);
    }
    const health = await t.inject({ method: 'GET', url: '/healthz' });
    assert.notEqual(health.headers['content-security-policy'], PAGE_CSP);
    assert.equal(health.headers['x-frame-options'], 'SAMEORIGIN');
  });

  test('the stylesheet is served by Gatehouse', async () => {
    const res = await t.inject({ method: 'GET', url: '/assets/gatehouse.css' });
    assert.equal(res.statusCode, 200);
    assert.match(res.headers['content-type'] as string, /^text\/css/);
    assert.match(res.body, /font-family/);
  });

  test('an unsafe return_to is not carried by the form; a safe one is', async () => {
    for (const raw of ['https://evil.example/', '//evil.example', '/\\evil.example', 'javascript:alert(1)']) {
      const res = await t.inject({ method: 'GET', url: `/login?return_to=${encodeURIComponent(raw)}` });
      assert.doesNotMatch(res.body, /evil|javascript/, raw);
      assert.match(res.body, /name="return_to" value="\/account"/, raw);
    }
    const res = await t.inject({ method: 'GET', url: `/login?return_to=${encodeURIComponent('/account?tab=1')}` });
    assert.match(res.body, /name="return_to" value="\/account\?tab=1"/);
  });

  test('sign-in without the synchronizer token (login CSRF) is refused and starts no session', async () => {
    await t.register('login-csrf-target');
    const user = await userNamed(t, 'login-csrf-target');
    const victim = await formSession(t, '/login');
    const res = await t.inject({
      method: 'POST',
      url: '/login',
      headers: { ...FORM, cookie: victim.cookie },
      payload: form({ username: 'login-csrf-target', password: TEST_PASSWORD }),
    });
    assert.equal(res.statusCode, 403);
    assert.equal(res.headers['set-cookie'], undefined);
    assert.deepEqual(await t.services.sessions.listActive(user!.id, new Date()), []);
  });

  test('sign-in sets the session cookie and sends the browser to the checked return_to', async () => {
    await t.register('page-signin');
    for (const [returnTo, location] of [
      ['/account?done=session_ended', '/account?done=session_ended'],
      ['https://evil.example/', '/account'],
      ['//evil.example', '/account'],
    ] as const) {
      const { cookie, token } = await formSession(t, '/login');
      const res = await t.inject({
        method: 'POST',
        url: '/login',
        headers: { ...FORM, cookie },
        payload: form({ _csrf: token, username: 'page-signin', password: TEST_PASSWORD, tenant: '', return_to: returnTo }),
      });
      assert.equal(res.statusCode, 303, returnTo);
      assert.equal(res.headers.location, location, returnTo);
      const session = [res.headers['set-cookie'] ?? []].flat().find((c) => c.startsWith('__Host-gatehouse_session='));
      assert.ok(session !== undefined);
      const account = await t.inject({ method: 'GET', url: '/account', headers: { cookie: session.split(';')[0]! } });
      assert.equal(account.statusCode, 200);
      assert.equal(account.headers['content-security-policy'], SCRIPT_CSP);
      assert.equal(account.headers['cache-control'], 'no-store');
    }
  });

  test('/account without a session is a 303 to sign-in that comes back', async () => {
    for (const cookie of [undefined, '__Host-gatehouse_session=forged.value', '__Host-gatehouse_session=a; __Host-gatehouse_session=b']) {
      const res = await t.inject({ method: 'GET', url: '/account', headers: cookie === undefined ? {} : { cookie } });
      assert.equal(res.statusCode, 303, cookie);
      assert.equal(res.headers.location, '/login?return_to=%2Faccount', cookie);
    }
  });

  test('throttled sign-in is a 429 page with Retry-After, never echoing the password', async () => {
    const limited = await startTestApp({ env: { GATEHOUSE_LIMIT_LOGIN_USER_IP: '2/15m' } });
    after(() => limited.close());
    await limited.register('throttled-user');
    const secret = 'guess-number-three-of-many';
    let res: LightMyRequestResponse | undefined;
    for (let i = 0; i < 5; i++) {
      const { cookie, token } = await formSession(limited, '/login');
      res = await limited.inject({
        method: 'POST',
        url: '/login',
        headers: { ...FORM, cookie },
        payload: form({ _csrf: token, username: 'throttled-user', password: secret }),
      });
      assert.ok(!res.body.includes(secret));
      if (res.statusCode === 429) break;
      assert.equal(res.statusCode, 401);
      assert.match(res.body, /The username or password is not correct\./);
    }
    assert.equal(res?.statusCode, 429);
    assert.match(res.headers['retry-after'] as string, /^\d+$/);
    assert.match(res.body, /Too many attempts/);
    assert.match(res.body, /try again in/);
  });

  test("a sign-in through the form counts as a success for the throttle (the 303 resets the account's failures)", async () => {
    const limited = await startTestApp({ env: { GATEHOUSE_LIMIT_LOGIN_USER_IP: '3/15m' } });
    after(() => limited.close());
    await limited.register('typo-prone');
    const attempt = async (password: string) => {
      const { cookie, token } = await formSession(limited, '/login');
      return (
        await limited.inject({ method: 'POST', url: '/login', headers: { ...FORM, cookie }, payload: form({ _csrf: token, username: 'typo-prone', password }) })
      ).statusCode;
    };
    const statuses = [];
    for (const password of [
      'typo one of several',
      'typo two of several',
      TEST_PASSWORD,
      'typo three of several',
      'typo four of several',
      'typo five of several',
    ]) {
      statuses.push(await attempt(password));
    }
    assert.deepEqual(statuses, [401, 401, 303, 401, 401, 401]);
  });

  test('a trusted app origin (GATEHOUSE_ALLOWED_ORIGINS) is a return_to target, and form-action lets the sign-in redirect there', async () => {
    const app = 'https://app.example.com';
    const trusting = await startTestApp({ env: { GATEHOUSE_ALLOWED_ORIGINS: app } });
    after(() => trusting.close());
    await trusting.register('goes-back');
    const { cookie, token, page } = await formSession(trusting, '/login');
    assert.equal(page.headers['content-security-policy'], SCRIPT_CSP.replace("form-action 'self'", `form-action 'self' ${app}`));
    const res = await trusting.inject({
      method: 'POST',
      url: '/login',
      headers: { ...FORM, cookie },
      payload: form({ _csrf: token, username: 'goes-back', password: TEST_PASSWORD, return_to: `${app}/dashboard?x=1` }),
    });
    assert.equal(res.statusCode, 303);
    assert.equal(res.headers.location, `${app}/dashboard?x=1`);
  });

  test('throttled registration is a 429 page with Retry-After', async () => {
    const limited = await startTestApp({ env: { GATEHOUSE_LIMIT_REGISTER_IP: '2/1h' } });
    after(() => limited.close());
    let res: LightMyRequestResponse | undefined;
    for (let i = 0; i < 4; i++) {
      const { cookie, token } = await formSession(limited);
      res = await limited.inject({
        method: 'POST',
        url: '/register',
        headers: { ...FORM, cookie },
        payload: form({ _csrf: token, username: `flood-${i}`, password: TEST_PASSWORD }),
      });
      if (res.statusCode === 429) break;
    }
    assert.equal(res?.statusCode, 429);
    assert.match(res.headers['retry-after'] as string, /^\d+$/);
    assert.match(res.headers['content-type'] as string, /^text\/html/);
    assert.match(res.body, /Too many attempts/);
    assert.match(res.body, /try again in/);
    assert.equal(res.headers['content-security-policy'], PAGE_CSP);
  });
});
