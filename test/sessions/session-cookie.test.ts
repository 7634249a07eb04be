import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, test } from 'node:test';
import {
  clearSessionCookie,
  DEVELOPMENT_SESSION_COOKIE,
  digestSessionSecret,
  generateSessionCookie,
  parseSessionCookieValue,
  readSessionCookie,
  SECURE_SESSION_COOKIE,
  serializeSessionCookie,
  sessionCookieName,
  sessionSecretMatches,
} from '../../src/sessions/session-cookie.js';

const NAME = SECURE_SESSION_COOKIE;

describe('session cookie', () => {
  test('https issuer: __Host- name, Secure, HttpOnly, SameSite=Lax, Path=/, no Domain, Max-Age', () => {
    assert.equal(sessionCookieName('https://id.example.com'), '__Host-gatehouse_session');
    assert.equal(
      serializeSessionCookie('https://id.example.com', 'v', 3600),
      '__Host-gatehouse_session=v; Max-Age=3600; Path=/; HttpOnly; Secure; SameSite=Lax',
    );
  });

  test('plain-http development issuer: gatehouse_session, without Secure (and so without __Host-)', () => {
    assert.equal(sessionCookieName('http://127.0.0.1:3000'), DEVELOPMENT_SESSION_COOKIE);
    assert.equal(serializeSessionCookie('http://127.0.0.1:3000', 'v', 60), 'gatehouse_session=v; Max-Age=60; Path=/; HttpOnly; SameSite=Lax');
  });

  test('clearing uses the same name and attributes, empty, expired', () => {
    assert.equal(
      clearSessionCookie('https://id.example.com'),
      '__Host-gatehouse_session=; Max-Age=0; Path=/; Expires=Thu, 01 Jan 1970 00:00:00 GMT; HttpOnly; Secure; SameSite=Lax',
    );
  });

  describe('readSessionCookie', () => {
    const value = generateSessionCookie(randomUUID()).value;

    test('a cookie of our name sent twice (one header or two) is malformed: a planted duplicate never chooses', () => {
      assert.equal(readSessionCookie([`${NAME}=${value}; ${NAME}=${value}`], NAME), 'malformed');
      assert.equal(readSessionCookie([`${NAME}=a`, `other=1; ${NAME}=${value}`], NAME), 'malformed');
    });

    test('an oversized value is malformed', () => {
      assert.equal(readSessionCookie([`${NAME}=${'a'.repeat(257)}`], NAME), 'malformed');
      assert.equal(readSessionCookie([`${NAME}=${'a'.repeat(256)}`], NAME), 'a'.repeat(256));
    });

    test('found among other cookies, raw (not percent-decoded); absent → undefined', () => {
      assert.equal(readSessionCookie([`theme=dark; ${NAME}=${value}; lang=en`], NAME), value);
      assert.equal(readSessionCookie([`${NAME}=%61b`], NAME), '%61b');
      assert.equal(readSessionCookie(['theme=dark'], NAME), undefined);
      assert.equal(readSessionCookie([], NAME), undefined);
      // The development name is another cookie: it never stands in for the secure one.
      assert.equal(readSessionCookie([`gatehouse_session=${value}`, `__host-gatehouse_session=${value}`], NAME), undefined);
    });
  });

  describe('value', () => {
    test('`<uuid>.<43 base64url>` with 256 random bits; a fresh secret each time', () => {
      const id = randomUUID();
      const a = generateSessionCookie(id);
      const b = generateSessionCookie(id);
      assert.match(a.value, /^[0-9a-f-]{36}\.[A-Za-z0-9_-]{43}$/);
      assert.notEqual(a.value, b.value);
      const parsed = parseSessionCookieValue(a.value);
      assert.deepEqual(parsed, { sessionId: id, secret: a.value.slice(37) });
      assert.equal(a.secretDigest, digestSessionSecret(parsed.secret));
      assert.equal(Buffer.from(parsed.secret, 'base64url').length, 32);
    });

    test('anything not exactly that shape is refused', () => {
      const good = generateSessionCookie(randomUUID()).value;
      const bad = [
        '',
        good.toUpperCase(),
        `${good}=`,
        `${good}A`,
        good.slice(0, -1),
        good.replace('.', '_'),
        ` ${good}`,
        `"${good}"`,
        `${good.slice(0, 37)}${'+'.repeat(43)}`,
        `not-a-uuid.${good.slice(37)}`,
      ];
      for (const value of bad) assert.equal(parseSessionCookieValue(value), undefined, value);
    });

    test('the secret matches its digest only', () => {
      const { value, secretDigest } = generateSessionCookie(randomUUID());
      const { secret } = parseSessionCookieValue(value)!;
      assert.equal(sessionSecretMatches(secret, secretDigest), true);
      assert.equal(sessionSecretMatches(secret, digestSessionSecret('x')), false);
      assert.equal(sessionSecretMatches(secret, ''), false);
      assert.equal(sessionSecretMatches(secret, 'zz'), false);
    });
  });
});
