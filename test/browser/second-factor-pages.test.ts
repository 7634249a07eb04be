import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Browser } from 'playwright-core';
import { startListeningGatehouse, type ListeningGatehouse } from '../support/browser-gatehouse.js';
import { assertScreenshot, signInThroughForm } from '../support/browser-pages.js';
import { chromiumSkip, launchChromium } from '../support/chromium.js';
import { bearer, TEST_PASSWORD } from '../support/test-app.js';
import { authenticatorOf } from '../support/totp-authenticator.js';

const STEP_MS = 30_000;

describe('the two-step sign-in in Chromium', { skip: chromiumSkip() }, () => {
  let gatehouse: ListeningGatehouse;
  let browser: Browser;
  // The server's clock, driven by the test: the sign-in code is of the step after the confirming one.
  let clock = Math.floor(Date.now() / STEP_MS) * STEP_MS + 10_000;
  before(async () => {
    [gatehouse, browser] = await Promise.all([startListeningGatehouse({ overrides: { now: () => clock } }), launchChromium()]);
  });
  after(async () => {
    await browser?.close();
    await gatehouse?.close();
  });

  test('password, then the code of the authenticator app typed into the second-factor page, lands on /account', async () => {
    const { t, base } = gatehouse;
    await t.register('dora');
    const { access_token } = await t.login('dora');
    const started = await t.inject({ method: 'POST', url: '/me/factors/totp', headers: bearer(access_token), payload: {} });
    const { id, otpauth_uri } = started.json<{ id: string; otpauth_uri: string }>();
    const app = authenticatorOf(otpauth_uri);
    const confirmed = await t.inject({ method: 'POST', url: `/me/factors/${id}/confirm`, headers: bearer(access_token), payload: { code: app.codeAt(clock) } });
    assert.equal(confirmed.statusCode, 200, confirmed.body);
    clock += STEP_MS;

    const context = await browser.newContext();
    const page = await context.newPage();
    await signInThroughForm(page, base, 'dora', TEST_PASSWORD);
    assert.equal(new URL(page.url()).pathname, '/login', 'the form answered in place: no redirect, no cookie yet');
    assert.equal(await page.locator('h1').textContent(), 'Two-step sign-in');
    assert.deepEqual(await context.cookies(base).then((cs) => cs.filter((c) => c.name.includes('session'))), []);
    await assertScreenshot(page, 'second-factor');

    await page.getByLabel('Code from your authenticator app').fill(app.codeAt(clock));
    await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: 'Continue' }).click()]);
    assert.equal(new URL(page.url()).pathname, '/account');
    assert.equal(await page.locator('h1').textContent(), 'Your account');
    await assertScreenshot(page, 'account-after-second-factor');
    await context.close();
  });
});
