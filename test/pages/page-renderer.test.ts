import { qrCodeSvg } from '../../src/factors/qr-code.js';
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createPageRenderer, type PageData, type PageName } from '../../src/pages/page-renderer.js';

const renderer = createPageRenderer();
/** The one script a page may carry: same-origin, no inline code (the CSP of /login and /account names 'self'). */
const PASSKEY_SCRIPT = '<script src="/assets/passkeys.js" defer></script>';
const HOSTILE = `<script>alert(1)</script>"'><img src=x onerror=alert(1)>`;
const TOKEN = 'csrf-token-value';
const at = new Date('2026-01-02T03:04:05Z');

const samples: { readonly [P in PageName]: PageData[P] } = {
  login: { csrfToken: TOKEN, returnTo: '/account', username: 'alice', error: 'Wrong username or password.', mailOn: true },
  register: { csrfToken: TOKEN, passwordMinLength: 15, returnTo: '/account', username: 'alice', fieldErrors: { password: 'too short' } },
  account: {
    csrfToken: TOKEN,
    profile: { id: '7d0f6f5e-8a53-4e0c-9d3e-0b2b8f1f6c11', username: 'alice', email: null, createdAt: at },
    sessions: [
      { id: '11111111-1111-4111-8111-111111111111', device: 'Chrome on Linux', createdAt: at, lastUsedAt: at, current: true },
      { id: '22222222-2222-4222-8222-222222222222', device: 'curl', createdAt: at, lastUsedAt: at, current: false },
    ],
    events: [
      { event: 'login.succeeded', outcome: 'success', reason: null, occurredAt: at, ip: '127.0.0.1', byAdministrator: false },
      { event: 'session.ended', outcome: 'success', reason: 'replaced_at_sign_in', occurredAt: at, ip: null, byAdministrator: false },
    ],
    passwordError: 'Current password is not correct.',
    totp: { factors: [{ id: '33333333-3333-4333-8333-333333333333', label: 'Authenticator app', createdAt: at, lastUsedAt: null }], recoveryCodesLeft: 9 },
  },
  'totp-setup': {
    csrfToken: TOKEN,
    factorId: '44444444-4444-4444-8444-444444444444',
    qrSvg: await qrCodeSvg('otpauth://totp/gatehouse.test:alice?secret=JBSWY3DPEHPK3PXP&issuer=gatehouse.test'),
    secret: 'JBSWY3DPEHPK3PXP',
    error: 'That code did not work.',
  },
  'recovery-codes': { codes: ['abcde-fghij-klmno-pqrst', 'bcdef-ghijk-lmnop-qrstu'], first: true },
  logout: { csrfToken: TOKEN },
  'forgot-password': { csrfToken: TOKEN, notice: 'If the account exists, a link is on its way.' },
  'reset-password': { csrfToken: TOKEN, code: 'A'.repeat(43), passwordMinLength: 15, error: 'Password not accepted: too short.' },
  'confirm-email': { csrfToken: TOKEN, code: 'B'.repeat(43) },
  'second-factor': {
    csrfToken: TOKEN,
    stepUp: false,
    action: '/login/second-factor',
    challenge: 'ghm_sample',
    returnTo: '/account',
    totp: true,
    passkey: true,
    target: '/account',
  },
  error: { status: 429, title: 'Too many attempts', detail: 'Wait a little.', retryAfterSeconds: 30, requestId: 'r-1' },
};
const render = <P extends PageName>(page: P, data: PageData[P]) => renderer.render(page, data);
const pages = Object.keys(samples) as PageName[];
const html = (page: PageName) => render(page, samples[page] as never);

describe('pages: what a page carries and what it must not', () => {
  test('interpolated values are escaped by the template library (script, attributes)', () => {
    const out = [
      render('login', { csrfToken: HOSTILE, username: HOSTILE, tenant: HOSTILE, returnTo: HOSTILE, error: HOSTILE }),
      render('register', { csrfToken: TOKEN, passwordMinLength: 15, username: HOSTILE, error: HOSTILE, fieldErrors: { username: HOSTILE, password: HOSTILE } }),
      render('account', {
        ...samples.account,
        profile: { ...samples.account.profile, username: HOSTILE, email: HOSTILE, tenant: HOSTILE },
        sessions: [{ ...samples.account.sessions[0]!, device: HOSTILE }],
        events: [{ event: HOSTILE, outcome: 'failure', reason: HOSTILE, occurredAt: at, ip: HOSTILE, byAdministrator: false }],
        notice: HOSTILE,
        passwordError: HOSTILE,
      }),
      render('error', { status: 400, title: HOSTILE, detail: HOSTILE, requestId: HOSTILE, next: { href: HOSTILE, text: HOSTILE } }),
    ];
    for (const page of out) {
      assert.doesNotMatch(page.replaceAll(PASSKEY_SCRIPT, ''), /<script|<img|onerror=alert\(1\)>|"'>/);
      assert.match(page, /&lt;script&gt;alert\(1\)&lt;\/script&gt;&quot;&#39;&gt;&lt;img/);
    }
  });

  test('no inline script, no inline style, no asset from elsewhere: one stylesheet and, on the passkey pages, one script, ours', () => {
    for (const page of pages) {
      const out = html(page);
      const scripts = out.match(/<script[^>]*>[^<]*<\/script>|<script/gi) ?? [];
      assert.deepEqual(scripts, page === 'login' || page === 'account' || page === 'second-factor' ? [PASSKEY_SCRIPT] : [], page);
      assert.doesNotMatch(out.replace(PASSKEY_SCRIPT, ''), /<script|<style|\sstyle=|\son[a-z]+=/i, page);
      assert.deepEqual(out.match(/<link [^>]*>/g), ['<link rel="stylesheet" href="/assets/gatehouse.css">'], page);
      for (const [, url] of out.matchAll(/\s(?:src|href|action)="([^"]*)"/g)) assert.match(url!, /^\/(?!\/)/, `${page}: ${url}`);
    }
  });

  test('a language, one h1 and a title on every page', () => {
    for (const page of pages) {
      const out = html(page);
      assert.match(out, /^<!doctype html>\n<html lang="en">/, page);
      assert.equal(out.match(/<h1[\s>]/g)?.length, 1, page);
      assert.match(out, /<title>[^<]+ · Gatehouse<\/title>/, page);
    }
  });

  test('every visible field has a label pointing at it', () => {
    for (const page of pages) {
      const out = html(page);
      const labelled = new Set([...out.matchAll(/<label for="([^"]+)"/g)].map((m) => m[1]));
      for (const [input] of out.matchAll(/<input [^>]*>/g)) {
        if (/type="hidden"|\shidden>/.test(input)) continue;
        const id = /\sid="([^"]+)"/.exec(input)?.[1];
        assert.ok(id !== undefined && labelled.has(id), `${page}: ${input}`);
      }
    }
  });

  test('every form posts and carries the synchronizer token (sign-in and registration included)', () => {
    for (const page of pages) {
      const out = html(page);
      const forms = [...out.matchAll(/<form [^>]*>[\s\S]*?<\/form>/g)].map((m) => m[0]);
      // Pages that only show something: an error, the recovery codes (shown once, nothing to post).
      if (page === 'error' || page === 'recovery-codes') {
        assert.equal(forms.length, 0);
        continue;
      }
      assert.ok(forms.length > 0, page);
      for (const form of forms) {
        assert.match(form, /^<form [^>]*method="post"/, page);
        assert.ok(form.includes(`<input type="hidden" name="_csrf" value="${TOKEN}">`), `${page}: ${form.slice(0, 80)}`);
      }
    }
  });

  test('a password field never has a value', () => {
    for (const page of pages) {
      for (const [input] of html(page).matchAll(/<input [^>]*type="password"[^>]*>/g)) assert.doesNotMatch(input, /\svalue=/, page);
    }
  });
});

describe('pages: content', () => {
  test('the account page has a sign-out form per session, sign out everywhere, password change and events', () => {
    const out = html('account');
    for (const s of samples.account.sessions) assert.ok(out.includes(`action="/account/sessions/${s.id}/end"`), s.id);
    assert.match(out, /action="\/account\/sessions\/end-all"/);
    assert.match(out, /action="\/account\/password"/);
    assert.match(out, /Signed in <\/li>|— Signed in/);
    assert.match(out, /this browser/);
    assert.match(out, /Browser session replaced by a new sign-in/);
  });

  test('the registration page states the configured minimum password length', () => {
    assert.match(render('register', { ...samples.register, passwordMinLength: 20 }), /At least 20 characters/);
  });

  test('the 429 page says when to try again', () => {
    assert.match(html('error'), /try again in 30 seconds/);
    assert.match(render('error', { ...samples.error, retryAfterSeconds: 900 }), /try again in 15 minutes/);
  });

  test('return_to is carried by the sign-in form and the link to registration', () => {
    const out = render('login', { csrfToken: TOKEN, returnTo: '/account?tab=1&x=2' });
    assert.ok(out.includes('<input type="hidden" name="return_to" value="/account?tab=1&amp;x=2">'));
    assert.ok(out.includes('href="/register?return_to=%2Faccount%3Ftab%3D1%26x%3D2"'));
  });
});
