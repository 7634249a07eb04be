import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { usernameKey } from '../../src/users/username.js';
import { startAttackSite, startListeningGatehouse, type AttackSite, type ListeningGatehouse } from '../support/browser-gatehouse.js';
import { chromiumSkip, distinctColours, launchChromium, MIN_DISTINCT_COLOURS, screenshot } from '../support/chromium.js';
import { TEST_PASSWORD } from '../support/test-app.js';

/** Every page is looked at: saved as an artefact and checked to have rendered something. */
async function assertScreenshot(page: Page, name: string): Promise<void> {
  const { file, colours } = await screenshot(page, name);
  assert.ok(colours > MIN_DISTINCT_COLOURS, `${file} looks blank (${colours} colours)`);
}

describe('hosted pages in Chromium', { skip: chromiumSkip() }, () => {
  let gatehouse: ListeningGatehouse;
  let attack: AttackSite;
  let browser: Browser;
  let context: BrowserContext;
  before(async () => {
    [gatehouse, attack, browser] = await Promise.all([startListeningGatehouse(), startAttackSite(), launchChromium()]);
    context = await browser.newContext();
  });
  after(async () => {
    await context?.close();
    await browser?.close();
    await attack?.close();
    await gatehouse?.close();
  });
  const userNamed = (name: string) => gatehouse.t.services.users.findByUsernameKey(usernameKey(name));

  test('a registration form auto-submitted from another site is refused (CSRF) and creates nothing', async () => {
    const page = await context.newPage();
    // The victim has visited Gatehouse: the browser holds its CSRF secret cookie.
    await page.goto(`${gatehouse.base}/login`);
    const url = attack.page(
      '/register-csrf',
      `<!doctype html><form id="f" method="post" action="${gatehouse.base}/register">
        <input name="username" value="planted-by-attacker"><input name="password" value="${TEST_PASSWORD}">
      </form><script>document.getElementById('f').submit()</script>`,
    );
    const answer = page.waitForResponse((r) => r.url() === `${gatehouse.base}/register`);
    await page.goto(url);
    assert.equal((await answer).status(), 403);
    await page.waitForURL(`${gatehouse.base}/register`);
    assert.equal(await page.locator('h1').textContent(), 'Request refused');
    await assertScreenshot(page, 'error-403-csrf');
    assert.equal(await userNamed('planted-by-attacker'), undefined);
    await page.close();
  });

  test('the pages refuse to be framed by another site', async () => {
    const page = await context.newPage();
    const url = attack.page('/frame', `<!doctype html><h1>evil</h1><iframe id="f" src="${gatehouse.base}/login" width="600" height="400"></iframe>`);
    const framed = page.waitForResponse((r) => r.url() === `${gatehouse.base}/login`);
    await page.goto(url);
    await framed;
    const frame = page.frames().find((f) => f !== page.mainFrame());
    assert.ok(frame !== undefined);
    // A refused frame is Chromium's error page: the sign-in form never renders inside it.
    await page.waitForLoadState('load');
    assert.equal(await frame.locator('#username').count(), 0);
    assert.notEqual(frame.url(), `${gatehouse.base}/login`);
    await page.close();
  });

  test('sign-up with the keyboard only: the form is labelled and submits with Enter', async () => {
    const page = await context.newPage();
    await page.goto(`${gatehouse.base}/register`);
    await assertScreenshot(page, 'register');
    await page.getByLabel('Username').focus();
    await page.keyboard.type('carol');
    await page.keyboard.press('Tab');
    assert.equal(await page.locator('#password').evaluate((field) => field.ownerDocument.activeElement === field), true);
    await page.keyboard.type(TEST_PASSWORD);
    await page.keyboard.press('Enter');
    await page.waitForURL(/\/login/);
    assert.ok((await userNamed('carol')) !== undefined);
    await page.close();
  });

  test('an open redirect through return_to is dropped from the form', async () => {
    const page = await context.newPage();
    await page.goto(`${gatehouse.base}/login?return_to=${encodeURIComponent('https://evil.example/phish')}`);
    assert.equal(await page.locator('input[name="return_to"]').getAttribute('value'), '/account');
    await assertScreenshot(page, 'login');
    await page.close();
  });

  test('the screenshot check tells a blank page from a rendered one', async () => {
    const page = await context.newPage();
    await page.setContent('<!doctype html><html><body></body></html>');
    assert.ok(distinctColours(await page.screenshot()) <= 2);
    await page.goto(`${gatehouse.base}/logout`);
    await assertScreenshot(page, 'logout');
    await page.close();
  });
});
