import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { usernameKey } from '../../src/users/username.js';
import { startAttackSite, startListeningGatehouse, type AttackSite, type ListeningGatehouse } from '../support/browser-gatehouse.js';
import { assertScreenshot, signInThroughForm } from '../support/browser-pages.js';
import { chromiumSkip, launchChromium } from '../support/chromium.js';
import { TEST_PASSWORD } from '../support/test-app.js';

const ATTACKER_PASSWORD = 'the attacker owns this passphrase';

/** An HTML form on the attack site that submits itself as soon as the page loads. */
function autoSubmit(action: string, fields: Record<string, string>, enctype = 'application/x-www-form-urlencoded'): string {
  const inputs = Object.entries(fields)
    .map(([name, value]) => `<input type="hidden" name='${name}' value='${value}'>`)
    .join('');
  return `<!doctype html><form id="f" method="post" action="${action}" enctype="${enctype}">${inputs}</form><script>document.getElementById('f').submit()</script>`;
}

describe('cross-site attacks on a signed-in browser (attack site on 127.0.0.2)', { skip: chromiumSkip() }, () => {
  let gatehouse: ListeningGatehouse;
  let attack: AttackSite;
  let browser: Browser;
  let victim: BrowserContext;
  let victimId: string;
  let attackerId: string;
  let victimHash: string;
  before(async () => {
    [gatehouse, attack, browser] = await Promise.all([startListeningGatehouse(), startAttackSite(), launchChromium()]);
    victimId = (await gatehouse.t.register('victim')).id;
    attackerId = (await gatehouse.t.register('mallory', ATTACKER_PASSWORD)).id;
    victimHash = (await gatehouse.t.services.users.findById(victimId))!.passwordHash!;
    victim = await browser.newContext();
    await signInThroughForm(await victim.newPage(), gatehouse.base, 'victim', TEST_PASSWORD);
  });
  after(async () => {
    await victim?.close();
    await browser?.close();
    await attack?.close();
    await gatehouse?.close();
  });
  const base = () => gatehouse.base;
  const activeSessions = (userId: string) => gatehouse.t.services.sessions.listActive(userId, new Date());

  /** Nothing an attack could have changed did: the password, the victim's sessions, the attacker's (none). */
  async function assertNothingChanged(victimSessionIds: readonly string[]): Promise<void> {
    assert.equal((await gatehouse.t.services.users.findById(victimId))!.passwordHash, victimHash, 'the password is unchanged');
    assert.deepEqual((await activeSessions(victimId)).map((s) => s.id).sort(), [...victimSessionIds].sort(), "the victim's sessions are all live");
    assert.deepEqual(await activeSessions(attackerId), [], 'no session was started for the attacker');
    // The victim's browser is still signed in as the victim (not logged out, not swapped to mallory).
    const page = await victim.newPage();
    await page.goto(`${base()}/account`);
    assert.equal(new URL(page.url()).pathname, '/account');
    assert.match((await page.locator('.profile').textContent()) ?? '', /victim/);
    await page.close();
  }

  /** Opens the attack page in the victim's browser and waits for the forged request's answer. */
  async function submitFrom(path: string, html: string, target: string): Promise<number> {
    const page = await victim.newPage();
    const answer = page.waitForResponse((r) => r.url() === target && r.request().method() === 'POST');
    await page.goto(attack.page(path, html));
    const status = (await answer).status();
    await page.waitForLoadState('load');
    if (path === '/login-csrf') await assertScreenshot(page, 'error-403-login-csrf');
    await page.close();
    return status;
  }

  test('auto-submitted forms to the pages and the API are refused and change nothing', async () => {
    const sessions = (await activeSessions(victimId)).map((s) => s.id);
    assert.equal(sessions.length, 1);
    const attempts: { path: string; target: string; fields: Record<string, string>; enctype?: string }[] = [
      { path: '/login-csrf', target: `${base()}/login`, fields: { username: 'mallory', password: ATTACKER_PASSWORD } },
      { path: '/register-csrf', target: `${base()}/register`, fields: { username: 'planted', password: ATTACKER_PASSWORD } },
      { path: '/page-password', target: `${base()}/account/password`, fields: { current_password: TEST_PASSWORD, new_password: ATTACKER_PASSWORD } },
      { path: '/page-end-all', target: `${base()}/account/sessions/end-all`, fields: {} },
      { path: '/page-end-one', target: `${base()}/account/sessions/${sessions[0]}/end`, fields: {} },
      { path: '/page-logout', target: `${base()}/logout`, fields: {} },
      // The JSON-in-text/plain trick: the body reads `{"current_password":…,"x":"="}`.
      {
        path: '/api-password',
        target: `${base()}/me/password`,
        fields: { [`{"current_password":"${TEST_PASSWORD}","new_password":"${ATTACKER_PASSWORD}","x":"`]: '"}' },
        enctype: 'text/plain',
      },
    ];
    for (const attempt of attempts) {
      const status = await submitFrom(attempt.path, autoSubmit(attempt.target, attempt.fields, attempt.enctype), attempt.target);
      assert.ok(status >= 300, `${attempt.path}: ${status}`);
      await assertNothingChanged(sessions);
    }
    assert.equal(await gatehouse.t.services.users.findByUsernameKey(usernameKey('planted')), undefined);
  });

  test('fetches from the attack site with credentials are refused and change nothing', async () => {
    const sessions = (await activeSessions(victimId)).map((s) => s.id);
    const page: Page = await victim.newPage();
    await page.goto(attack.page('/fetches', '<!doctype html><h1>totally harmless</h1>'));
    const body = JSON.stringify({ current_password: TEST_PASSWORD, new_password: ATTACKER_PASSWORD });
    const login = JSON.stringify({ username: 'mallory', password: ATTACKER_PASSWORD });
    // Each fetch either fails (CORS: no preflight answer for us) or is opaque; the state is what counts.
    const outcomes = (await page.evaluate(`Promise.all([
      fetch('${base()}/me/password', { method: 'POST', credentials: 'include', headers: { 'content-type': 'application/json' }, body: ${JSON.stringify(body)} }),
      fetch('${base()}/me/password', { method: 'POST', credentials: 'include', mode: 'no-cors', headers: { 'content-type': 'text/plain' }, body: ${JSON.stringify(body)} }),
      fetch('${base()}/me/sessions/${sessions[0]}', { method: 'DELETE', credentials: 'include' }),
      fetch('${base()}/auth/session', { method: 'POST', credentials: 'include', headers: { 'content-type': 'application/json' }, body: ${JSON.stringify(login)} }),
      fetch('${base()}/auth/session', { method: 'DELETE', credentials: 'include' }),
      fetch('${base()}/auth/logout-all', { method: 'POST', credentials: 'include', mode: 'no-cors' }),
    ].map((p) => p.then((r) => r.type + ':' + r.status, (e) => 'failed:' + e.name)))`)) as string[];
    for (const outcome of outcomes) assert.match(outcome, /^(failed:TypeError|opaque:0)$/, outcome);
    await page.close();
    await assertNothingChanged(sessions);
  });

  test('login CSRF against the API: a cross-site form or fetch to POST /auth/session starts no session', async () => {
    const fresh = await browser.newContext();
    try {
      const page = await fresh.newPage();
      const target = `${base()}/auth/session`;
      const answer = page.waitForResponse((r) => r.url() === target && r.request().method() === 'POST');
      await page.goto(attack.page('/api-session', autoSubmit(target, { username: 'mallory', password: ATTACKER_PASSWORD })));
      assert.ok((await answer).status() >= 400, 'the forged sign-in is refused');
      await page.goto(attack.page('/api-session-fetch', '<!doctype html><h1>harmless</h1>'));
      await page.evaluate(
        `fetch('${target}', { method: 'POST', credentials: 'include', mode: 'no-cors', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'username=mallory&password=${encodeURIComponent(ATTACKER_PASSWORD)}' }).catch(() => undefined)`,
      );
      assert.deepEqual(await activeSessions(attackerId), [], 'no session was started for the attacker');
      assert.deepEqual(
        (await fresh.cookies()).filter((c) => c.name === 'gatehouse_session'),
        [],
        "the browser holds no attacker's cookie",
      );
    } finally {
      await fresh.close();
    }
  });

  test('the pages cannot be framed by another site (clickjacking)', async () => {
    const page = await victim.newPage();
    const url = attack.page('/frame', `<!doctype html><h1>win a prize</h1><iframe src="${base()}/login" width="800" height="600"></iframe>`);
    const framed = page.waitForResponse((r) => r.url() === `${base()}/login`);
    await page.goto(url);
    assert.equal((await framed).status(), 200, 'the browser fetched the page; it refuses to show it');
    await page.waitForLoadState('load');
    const frame = page.frames().find((f) => f !== page.mainFrame());
    assert.ok(frame !== undefined);
    // A refused frame holds Chromium's error page (chrome-error://), never our document.
    assert.notEqual(frame.url(), `${base()}/login`);
    assert.equal(await frame.locator('#username').count(), 0, 'the sign-in form never renders inside the frame');
    await page.close();
  });
});
