import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { OriginListError, parseOrigin, parseOriginList, trustedOrigins } from '../../src/guard/trusted-origins.js';

const ISSUER = 'https://issuer.example.com';

describe('parseOrigin: refusals (an entry is an exact origin or nothing)', () => {
  for (const entry of [
    'https://app.example.com/',
    'https://app.example.com/path',
    'https://app.example.com?x=1',
    'https://app.example.com#frag',
    'https://*.example.com',
    '*',
    'null',
    'app.example.com',
    '//app.example.com',
    'https://user:pw@app.example.com',
    'https://user@app.example.com',
    'chrome-extension://abcdef',
    'file:///etc/passwd',
    'javascript://alert(1)',
    'https://app.example.com:99999',
    'https://app.example.com\\evil.test',
  ]) {
    test(`refuses ${JSON.stringify(entry)}`, () => {
      assert.throws(
        () => parseOrigin(entry),
        (e: unknown) => e instanceof OriginListError && e.entry === entry && e.message.includes(JSON.stringify(entry)),
      );
    });
  }
});

describe('parseOrigin: normalized as a browser serializes Origin', () => {
  test('lower-case scheme and host, default port dropped, other ports kept, IPv6 bracketed', () => {
    assert.equal(parseOrigin('HTTPS://App.Example.COM:443'), 'https://app.example.com');
    assert.equal(parseOrigin('http://localhost:80'), 'http://localhost');
    assert.equal(parseOrigin('http://localhost:3000'), 'http://localhost:3000');
    assert.equal(parseOrigin('http://[::1]:8080'), 'http://[::1]:8080');
    assert.equal(parseOrigin('https://bücher.example'), 'https://xn--bcher-kva.example');
  });

  test('a list: commas or whitespace, empty entries ignored, duplicates after normalization dropped', () => {
    assert.deepEqual(parseOriginList(' https://a.example, https://A.example:443\thttps://b.example,,'), ['https://a.example', 'https://b.example']);
    assert.deepEqual(parseOriginList(''), []);
  });

  test('a list with one bad entry fails naming that entry', () => {
    assert.throws(
      () => parseOriginList('https://a.example https://b.example/x'),
      (e: unknown) => e instanceof OriginListError && e.entry === 'https://b.example/x',
    );
  });
});

describe('trustedOrigins', () => {
  const trusted = trustedOrigins({ issuer: `${ISSUER}/tenant-path`, allowedOrigins: ['https://app.example.com'] });

  test("malicious: look-alikes of the issuer's origin are not trusted", () => {
    for (const origin of [
      'https://issuer.example.com.evil.test',
      'https://evil-issuer.example.com',
      'https://sub.issuer.example.com',
      'http://issuer.example.com',
      'https://issuer.example.com:8443',
      'https://issuer.example.com/',
      'https://ISSUER.example.com',
      ' https://issuer.example.com',
      'null',
      '',
    ]) {
      assert.equal(trusted.has(origin), false, origin);
    }
  });

  test("the issuer's origin (its path dropped) and the listed origins are trusted, nothing else", () => {
    assert.equal(trusted.issuerOrigin, ISSUER);
    assert.equal(trusted.has(ISSUER), true);
    assert.equal(trusted.has('https://app.example.com'), true);
    assert.equal(trusted.has('https://other.example.com'), false);
  });

  test('an empty list trusts the issuer only; an http development issuer keeps its port', () => {
    const dev = trustedOrigins({ issuer: 'http://127.0.0.1:8000', allowedOrigins: [] });
    assert.equal(dev.issuerOrigin, 'http://127.0.0.1:8000');
    assert.equal(dev.has('http://127.0.0.1:8000'), true);
    assert.equal(dev.has('http://127.0.0.2:8000'), false);
    assert.equal(dev.has('http://127.0.0.1'), false);
  });
});
