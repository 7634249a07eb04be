import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { MAX_RETURN_TO_LENGTH, safeReturnTo, type ReturnToTrust } from '../../src/pages/return-to.js';

const trust: ReturnToTrust = {
  issuerOrigin: 'https://auth.example.com',
  has: (origin) => origin === 'https://app.example.com',
};
const FALLBACK = '/account';
const target = (raw: string | undefined) => safeReturnTo(raw, trust);

describe('safeReturnTo: open redirects refused', () => {
  test('another origin, absolute or protocol-relative, falls back', () => {
    for (const raw of [
      'https://evil.example/',
      'http://evil.example',
      '//evil.example',
      '//evil.example/account',
      '///evil.example',
      'https://app.example.com.evil.example/',
    ]) {
      assert.equal(target(raw), FALLBACK, raw);
    }
  });

  test('backslashes, which browsers read as slashes, fall back', () => {
    for (const raw of ['/\\evil.example', '\\\\evil.example', '/\\/evil.example', 'https:\\\\evil.example', '/account\\x']) {
      assert.equal(target(raw), FALLBACK, raw);
    }
  });

  test('control characters and whitespace that URL parsing strips fall back', () => {
    for (const raw of ['/\t/evil.example', '/\n/evil.example', '\u0000//evil.example', ' //evil.example', '/\r\n/evil.example', '/account\u007f', '/x\u0085']) {
      assert.equal(target(raw), FALLBACK, JSON.stringify(raw));
    }
  });

  test('schemes other than http(s) fall back', () => {
    for (const raw of [
      'javascript:alert(1)',
      'JavaScript:alert(1)',
      'data:text/html,<script>alert(1)</script>',
      'vbscript:x',
      'file:///etc/passwd',
      'ftp://auth.example.com/',
    ]) {
      assert.equal(target(raw), FALLBACK, raw);
    }
  });

  test('userinfo falls back, even on our own origin', () => {
    for (const raw of ['https://auth.example.com@evil.example/', 'https://user:pass@auth.example.com/account', 'https://x@app.example.com/']) {
      assert.equal(target(raw), FALLBACK, raw);
    }
  });

  test('dot segments that collapse into a protocol-relative path fall back', () => {
    assert.equal(target('/.//evil.example'), FALLBACK);
    assert.equal(target('/x/..//evil.example'), FALLBACK);
  });

  test('the trusted origin with another scheme or port falls back', () => {
    assert.equal(target('http://app.example.com/'), FALLBACK);
    assert.equal(target('https://app.example.com:8443/'), FALLBACK);
  });

  test('an over-long target falls back', () => {
    assert.equal(target(`/${'a'.repeat(MAX_RETURN_TO_LENGTH)}`), FALLBACK);
  });

  test('absent or empty falls back, to the fallback given', () => {
    assert.equal(target(undefined), FALLBACK);
    assert.equal(target(''), FALLBACK);
    assert.equal(safeReturnTo('//evil.example', trust, '/login'), '/login');
  });
});

describe('safeReturnTo: what is allowed', () => {
  test('a path on the issuer stays a path, re-serialised', () => {
    assert.equal(target('/account'), '/account');
    assert.equal(target('/account?tab=sessions#top'), '/account?tab=sessions#top');
    assert.equal(target('/a/../account'), '/account');
    assert.equal(target('/search?q=<x>'), '/search?q=%3Cx%3E');
  });

  test("the issuer's own absolute URL becomes a path", () => {
    assert.equal(target('https://auth.example.com/account?x=1'), '/account?x=1');
  });

  test('a trusted origin keeps its full URL', () => {
    assert.equal(target('https://app.example.com/dashboard?x=1'), 'https://app.example.com/dashboard?x=1');
    assert.equal(target('https://APP.example.com/'), 'https://app.example.com/');
  });
});
