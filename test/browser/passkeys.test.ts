import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Browser, BrowserContext, CDPSession, Page } from 'playwright-core';
import { freePort } from '../support/browser-gatehouse.js';
import { signInThroughForm } from '../support/browser-pages.js';
import { chromiumSkip, launchChromium } from '../support/chromium.js';
import { startTestApp, TEST_PASSWORD, type TestApp } from '../support/test-app.js';

/**
 * Passkeys on the hosted pages in Chromium, with a virtual authenticator (DevTools protocol).
 * WebAuthn takes no IP address as RP ID: the issuer is http://localhost:<port> (a secure context).
 */
describe('passkeys on /account and /login in Chromium (virtual authenticator)', { skip: chromiumSkip() }, () => {
  let t: TestApp;
  let base: string;
  let browser: Browser;
  before(async () => {
    const port = await freePort();
    base = `http://localhost:${port}`;
    [t, browser] = await Promise.all([startTestApp({ env: { GATEHOUSE_ISSUER: base } }), launchChromium()]);
    await t.app.listen({ host: '127.0.0.1', port });
    await t.register('paula');
  });
  after(async () => {
    await browser?.close();
    await t?.close();
  });

  const withAuthenticator = async (context: BrowserContext, page: Page, isUserVerified: boolean): Promise<{ cdp: CDPSession; authenticatorId: string }> => {
    const cdp = await context.newCDPSession(page);
    await cdp.send('WebAuthn.enable');
    const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
      options: { protocol: 'ctap2', transport: 'internal', hasResidentKey: true, hasUserVerification: true, isUserVerified, automaticPresenceSimulation: true },
    });
    return { cdp, authenticatorId };
  };

  test('register a passkey on /account, sign out, sign in with it, see the session; without UV: refused', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    const { cdp, authenticatorId } = await withAuthenticator(context, page, true);
    await signInThroughForm(page, base, 'paula', TEST_PASSWORD);
    assert.equal(new URL(page.url()).pathname, '/account');
    await page.getByLabel('Name for a new passkey').fill('virtual key');
    await Promise.all([page.waitForEvent('load'), page.getByRole('button', { name: 'Add a passkey' }).click()]);
    await page.getByText('virtual key').waitFor();
    const { credentials } = await cdp.send('WebAuthn.getCredentials', { authenticatorId });
    assert.equal(credentials.length, 1);
    assert.equal(credentials[0]?.isResidentCredential, true);

    await page.goto(`${base}/logout`);
    await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: 'Sign out' }).click()]);
    assert.equal(new URL(page.url()).pathname, '/login');
    await Promise.all([page.waitForURL(`${base}/account`), page.getByRole('button', { name: 'Use a passkey' }).click()]);
    const sessions = await page.evaluate(async () => (await fetch('/me/sessions')).json());
    assert.ok(
      (sessions as { current: boolean }[]).some((s) => s.current),
      'signed in by the passkey',
    );

    // The same kind of authenticator, but the user is not verified: the sign-in is refused.
    const other = await browser.newContext();
    const otherPage = await other.newPage();
    const unverified = await withAuthenticator(other, otherPage, false);
    await unverified.cdp.send('WebAuthn.addCredential', {
      authenticatorId: unverified.authenticatorId,
      credential: { ...credentials[0]!, signCount: credentials[0]!.signCount + 10 },
    });
    await otherPage.goto(`${base}/login`);
    await otherPage.getByRole('button', { name: 'Use a passkey' }).click();
    await otherPage.locator('#passkey-error:not([hidden])').waitFor();
    assert.equal(new URL(otherPage.url()).pathname, '/login');
    await other.close();

    // Signed in by the passkey (two factors, just now), the account page may remove it.
    await page.goto(`${base}/account`);
    await Promise.all([page.waitForEvent('load'), page.getByRole('button', { name: 'Remove this passkey' }).click()]);
    await page.getByText('No passkeys yet.').waitFor();
    await context.close();
  });
});
