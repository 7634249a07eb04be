import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { usernameKey } from '../../src/users/username.js';
import { startListeningGatehouse, type ListeningGatehouse } from '../support/browser-gatehouse.js';
import { assertScreenshot, signInThroughForm } from '../support/browser-pages.js';
import { chromiumSkip, distinctColours, launchChromium, MIN_DISTINCT_COLOURS } from '../support/chromium.js';
import { TEST_PASSWORD } from '../support/test-app.js';

const NEW_PASSWORD = 'a brand new passphrase, long enough';

describe('sign-up, sign-in and the account page in Chromium', { skip: chromiumSkip() }, () => {
  let gatehouse: ListeningGatehouse;
  let browser: Browser;
  before(async () => {
    [gatehouse, browser] = await Promise.all([startListeningGatehouse(), launchChromium()]);
  });
  after(async () => {
    await browser?.close();
    await gatehouse?.close();
  });
  const base = () => gatehouse.base;
  const h1 = (page: Page) => page.locator('h1').textContent();
  /** A password-grant login through the API: whether `password` is the account's password now. */
  const apiLoginStatus = async (username: string, password: string) =>
    (
      await gatehouse.t.inject({
        method: 'POST',
        url: '/auth/token',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        payload: new URLSearchParams({ grant_type: 'password', username, password }).toString(),
      })
    ).statusCode;

  test('the screenshot check tells a blank page from a rendered one', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.setContent('<!doctype html><html><body></body></html>');
    assert.ok(distinctColours(await page.screenshot()) <= MIN_DISTINCT_COLOURS, 'a blank page fails the check');
    await page.goto(`${base()}/login`);
    assert.ok(distinctColours(await page.screenshot()) > MIN_DISTINCT_COLOURS, 'the sign-in page passes it');
    await context.close();
  });

  test('sign up with the keyboard only, land signed in on /account, sign out, sign in again', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`${base()}/register`);
    await assertScreenshot(page, 'register');
    await page.getByLabel('Username').focus();
    await page.keyboard.type('carol');
    const focused = (selector: string) => page.locator(selector).evaluate((field) => field.ownerDocument.activeElement === field);
    // The optional email address comes next in tab order; carol leaves it empty.
    await page.keyboard.press('Tab');
    assert.equal(await focused('#email'), true);
    await page.keyboard.press('Tab');
    assert.equal(await focused('#password'), true);
    await page.keyboard.type(TEST_PASSWORD);
    await Promise.all([page.waitForNavigation(), page.keyboard.press('Enter')]);
    assert.equal(new URL(page.url()).pathname, '/account');
    assert.equal(await h1(page), 'Your account');
    assert.match((await page.locator('.profile').textContent()) ?? '', /carol/);
    assert.ok((await gatehouse.t.services.users.findByUsernameKey(usernameKey('carol'))) !== undefined);
    await assertScreenshot(page, 'account');

    await page.getByRole('link', { name: 'Sign out' }).click();
    await page.waitForURL(`${base()}/logout`);
    await assertScreenshot(page, 'logout');
    await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: 'Sign out' }).click()]);
    assert.equal(new URL(page.url()).pathname, '/login');
    await page.goto(`${base()}/account`);
    assert.equal(new URL(page.url()).pathname, '/login', 'signed out: /account sends to sign-in');
    await assertScreenshot(page, 'login');

    await signInThroughForm(page, base(), 'carol', TEST_PASSWORD);
    assert.equal(new URL(page.url()).pathname, '/account');
    await context.close();
  });

  test('a wrong password and an unknown user read exactly the same, and the password is not echoed', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    const seen: { status: number; alert: string | null; username: string | null }[] = [];
    for (const [username, password] of [
      ['carol', 'not carols password at all'],
      ['nobody-here', 'not carols password at all'],
    ] as const) {
      const answer = page.waitForResponse((r) => r.url() === `${base()}/login` && r.request().method() === 'POST');
      await signInThroughForm(page, base(), username, password);
      const response = await answer;
      seen.push({ status: response.status(), alert: await page.getByRole('alert').textContent(), username: await page.getByLabel('Username').inputValue() });
      assert.ok(!(await page.content()).includes(password), 'the password is never in the page');
      assert.equal(await page.getByLabel('Password').inputValue(), '');
    }
    assert.deepEqual(
      seen.map((s) => [s.status, s.alert]),
      [
        [401, 'The username or password is not correct.'],
        [401, 'The username or password is not correct.'],
      ],
    );
    await assertScreenshot(page, 'login-refused');
    await context.close();
  });

  test('return_to brings the browser back after sign-in; one to another site is refused (no open redirect)', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`${base()}/account?done=session_ended`);
    const sent = new URL(page.url());
    assert.equal(sent.pathname, '/login');
    assert.equal(sent.searchParams.get('return_to'), '/account?done=session_ended');
    await page.getByLabel('Username').fill('carol');
    await page.getByLabel('Password').fill(TEST_PASSWORD);
    await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: 'Sign in' }).click()]);
    assert.equal(page.url(), `${base()}/account?done=session_ended`);

    for (const evil of ['https://evil.example/phish', '//evil.example/phish', '/\\evil.example', `${base()}@evil.example/`]) {
      // The hidden field is what the form would carry; forge it too, as an attacker's link could not.
      await page.goto(`${base()}/login?return_to=${encodeURIComponent(evil)}`);
      await page.locator('input[name="return_to"]').evaluate((field, value) => field.setAttribute('value', value), evil);
      await page.getByLabel('Username').fill('carol');
      await page.getByLabel('Password').fill(TEST_PASSWORD);
      const answer = page.waitForResponse((r) => r.url() === `${base()}/login` && r.request().method() === 'POST');
      await page.getByRole('button', { name: 'Sign in' }).click();
      assert.equal((await answer).headers().location, '/account', evil);
      await page.waitForURL(`${base()}/account`);
    }
    await context.close();
  });

  test('two browsers: one signs the other out, whose next page load lands on sign-in', async () => {
    const [phone, laptop] = [await browser.newContext(), await browser.newContext()];
    const phonePage = await phone.newPage();
    const laptopPage = await laptop.newPage();
    await signInThroughForm(phonePage, base(), 'carol', TEST_PASSWORD);
    await signInThroughForm(laptopPage, base(), 'carol', TEST_PASSWORD);
    const laptopSession = await sessionIdOf(laptop);
    await phonePage.reload();
    const form = phonePage.locator(`form[action="/account/sessions/${laptopSession}/end"]`);
    assert.equal(await form.count(), 1, "the laptop's session is listed on the phone");
    await Promise.all([phonePage.waitForNavigation(), form.getByRole('button', { name: 'Sign out this device' }).click()]);
    assert.equal(new URL(phonePage.url()).pathname, '/account');
    assert.match((await phonePage.getByRole('status').textContent()) ?? '', /signed out/);

    await laptopPage.reload();
    assert.equal(new URL(laptopPage.url()).pathname, '/login');
    assert.equal(new URL(laptopPage.url()).searchParams.get('return_to'), '/account');
    const ended = await gatehouse.t.services.sessions.find(laptopSession);
    assert.ok(ended?.revokedAt !== null, 'the session row is revoked');
    await phonePage.reload();
    assert.equal(new URL(phonePage.url()).pathname, '/account', 'the phone stays signed in');
    await Promise.all([phone.close(), laptop.close()]);
  });

  test('sign out everywhere ends every browser, this one included', async () => {
    const [a, b] = [await browser.newContext(), await browser.newContext()];
    const pageA = await a.newPage();
    const pageB = await b.newPage();
    await signInThroughForm(pageA, base(), 'carol', TEST_PASSWORD);
    await signInThroughForm(pageB, base(), 'carol', TEST_PASSWORD);
    await Promise.all([pageA.waitForNavigation(), pageA.getByRole('button', { name: 'Sign out everywhere' }).click()]);
    assert.equal(new URL(pageA.url()).pathname, '/login');
    await pageB.reload();
    assert.equal(new URL(pageB.url()).pathname, '/login');
    await pageA.goto(`${base()}/account`);
    assert.equal(new URL(pageA.url()).pathname, '/login');
    const user = await gatehouse.t.services.users.findByUsernameKey(usernameKey('carol'));
    assert.deepEqual(await gatehouse.t.services.sessions.listActive(user!.id, new Date()), []);
    await Promise.all([a.close(), b.close()]);
  });

  test('password change: the other browser is signed out, this one stays, the old password stops working', async () => {
    const [here, elsewhere] = [await browser.newContext(), await browser.newContext()];
    const page = await here.newPage();
    const other = await elsewhere.newPage();
    await signInThroughForm(page, base(), 'carol', TEST_PASSWORD);
    await signInThroughForm(other, base(), 'carol', TEST_PASSWORD);

    await page.getByLabel('Current password').fill('a wrong current password');
    await page.getByLabel('New password').fill(NEW_PASSWORD);
    await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: 'Change password' }).click()]);
    assert.equal(await page.getByRole('alert').textContent(), 'The current password is not correct.');
    assert.equal(await apiLoginStatus('carol', TEST_PASSWORD), 200, 'nothing changed');

    await page.getByLabel('Current password').fill(TEST_PASSWORD);
    await page.getByLabel('New password').fill(NEW_PASSWORD);
    await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: 'Change password' }).click()]);
    assert.equal(
      new URL(page.url()).pathname,
      '/account',
      (await page.getByRole('alert').count()) > 0 ? ((await page.getByRole('alert').textContent()) ?? '') : '',
    );
    assert.match((await page.getByRole('status').textContent()) ?? '', /password was changed/);
    assert.match((await page.locator('.events').textContent()) ?? '', /Password changed/);
    await assertScreenshot(page, 'account-password-changed');

    assert.equal(await apiLoginStatus('carol', TEST_PASSWORD), 400, 'the old password is refused');
    assert.equal(await apiLoginStatus('carol', NEW_PASSWORD), 200);
    await other.reload();
    assert.equal(new URL(other.url()).pathname, '/login');
    await page.reload();
    assert.equal(new URL(page.url()).pathname, '/account');
    await Promise.all([here.close(), elsewhere.close()]);
  });
});

/** The session id of a browser context: the part of its session cookie before the dot. */
async function sessionIdOf(context: import('playwright-core').BrowserContext): Promise<string> {
  const cookie = (await context.cookies()).find((c) => c.name === 'gatehouse_session');
  assert.ok(cookie !== undefined, 'the browser holds the session cookie');
  return cookie.value.split('.')[0]!;
}
