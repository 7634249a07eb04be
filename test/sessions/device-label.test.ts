import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { deviceLabel } from '../../src/sessions/device-label.js';

describe('deviceLabel', () => {
  const known: [string, string][] = [
    ['Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0', 'Firefox on Linux'],
    ['Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36', 'Chrome on Windows'],
    ['Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36 Edg/120.0.2210.91', 'Edge on Windows'],
    ['Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Safari/605.1.15', 'Safari on macOS'],
    [
      'Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1',
      'Safari on iOS',
    ],
    ['Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Mobile Safari/537.36', 'Chrome on Android'],
    ['Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/131.0.0.0 Safari/537.36', 'Chrome on Linux'],
    ['curl/8.5.0', 'curl'],
    ['python-requests/2.31.0', 'python-requests'],
    ['node', 'Node.js'],
  ];
  for (const [ua, label] of known) {
    test(`${label}: ${ua.slice(0, 40)}…`, () => assert.equal(deviceLabel(ua), label));
  }

  test('missing or blank: "unknown device"', () => {
    assert.equal(deviceLabel(undefined), 'unknown device');
    assert.equal(deviceLabel(''), 'unknown device');
    assert.equal(deviceLabel('   '), 'unknown device');
  });

  test('an unknown agent is shown as sent, without control characters', () => {
    assert.equal(deviceLabel('MyApp/1.0'), 'MyApp/1.0');
    assert.equal(deviceLabel('evil\r\nSet-Cookie: x\u0000\u001b[31m\u007f'), 'evilSet-Cookie: x[31m');
  });

  test('C1 control characters are stripped too (U+0080–U+009F, e.g. U+009B, the 8-bit CSI)', () => {
    assert.equal(deviceLabel('app\u0085name\u009b31m'), 'appname31m');
  });

  test('bidi overrides, zero-width characters and line separators are stripped (label spoofing)', () => {
    assert.equal(deviceLabel('good\u202Eexe.gnp\u202C\u200B\u2028app'), 'goodexe.gnpapp');
  });

  test('an agent made only of control characters is "unknown device", not an empty label', () => {
    assert.equal(deviceLabel('\u0001\u0002\u001b'), 'unknown device');
  });

  test('length is capped at 64 characters', () => {
    const label = deviceLabel('x'.repeat(10_000));
    assert.equal(label, 'x'.repeat(64));
  });

  test('the cap counts after stripping and never splits a surrogate pair', () => {
    assert.equal(deviceLabel('\u0001'.repeat(100) + 'y'.repeat(70)), 'y'.repeat(64));
    const label = deviceLabel('a' + '\u{1F600}'.repeat(40));
    assert.ok(Array.from(label).length <= 64);
    assert.doesNotMatch(label, /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/, 'no lone surrogate at the cut');
  });
});
