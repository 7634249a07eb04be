import assert from 'node:assert/strict';
import { randomBytes, randomInt } from 'node:crypto';
import { describe, test } from 'node:test';
import { PasswordPolicyError } from '../../src/errors/errors.js';
import type { PasswordRejection } from '../../src/errors/errors.js';
import { isCommonPassword } from '../../src/passwords/common-passwords.js';
import { checkPassword } from '../../src/passwords/password-policy.js';
import type { PasswordContext, PasswordPolicyOptions } from '../../src/passwords/password-policy.js';

/** The rejection `checkPassword` throws, or `'accepted'`. Any other exception fails the test. */
function verdict(password: unknown, context?: PasswordContext, options?: PasswordPolicyOptions): PasswordRejection | 'accepted' {
  try {
    checkPassword(password, context, options);
    return 'accepted';
  } catch (error) {
    assert.ok(error instanceof PasswordPolicyError, `unexpected ${String(error)}`);
    return error.rejection;
  }
}

function catchPolicyError(run: () => void): PasswordPolicyError {
  try {
    run();
  } catch (error) {
    if (error instanceof PasswordPolicyError) return error;
    throw error;
  }
  assert.fail('expected a PasswordPolicyError');
}

function randomLowercase(length: number): string {
  return Array.from({ length }, () => String.fromCharCode(97 + randomInt(26))).join('');
}

describe('checkPassword: malicious and edge cases', () => {
  test('14 characters are too short at the default minimum of 15; 15 are accepted', () => {
    assert.equal(verdict('kq7vmz2xw9tplr'), 'too_short');
    assert.equal(verdict('kq7vmz2xw9tplrh'), 'accepted');
  });

  test('length counts code points after NFKC: an emoji is one character', () => {
    // 14 emoji are 28 UTF-16 units: counting units would wrongly accept them.
    assert.equal(verdict('🦊'.repeat(14)), 'too_short');
    assert.equal(verdict('🦊'.repeat(15)), 'accepted');
    // U+FB03 'ﬃ' is one code point typed, three after NFKC.
    assert.equal(verdict('ﬃ'.repeat(5)), 'accepted');
  });

  test('more than 1024 UTF-8 bytes is too long, counted in bytes not characters', () => {
    // 513 × 'é' is 513 characters but 1026 bytes.
    assert.equal(verdict('\u00e9'.repeat(513)), 'too_long');
    assert.equal(verdict('\u00e9'.repeat(512)), 'accepted');
    assert.equal(verdict('🦊'.repeat(257)), 'too_long');
    assert.equal(verdict('x'.repeat(1025)), 'too_long');
  });

  test('maxBytes is configurable but never below 64 four-byte characters', () => {
    assert.equal(verdict('x'.repeat(300), {}, { maxBytes: 256 }), 'too_long');
    assert.throws(() => checkPassword('x'.repeat(20), {}, { maxBytes: 255 }), TypeError);
  });

  test('a common password is rejected case-insensitively and after NFKC', () => {
    assert.ok(isCommonPassword('passwordpassword'));
    assert.equal(verdict('PassWordPassword'), 'common');
    assert.equal(verdict('ｐａｓｓｗｏｒｄｐａｓｓｗｏｒｄ'), 'common');
    assert.equal(verdict('qwertyuiopasdfghjkl'), 'common');
    assert.equal(verdict('Password1', {}, { minLength: 8 }), 'common');
    assert.equal(verdict('Sunshine', {}, { minLength: 8 }), 'common');
  });

  test('a password containing the username in another case is rejected', () => {
    assert.equal(verdict('my-ALICE.Smith-is-secret', { username: 'alice.smith' }), 'contains_username');
    assert.equal(verdict('ｂｏｂｂｙ tables forever', { username: 'Bobby' }), 'contains_username');
    assert.equal(verdict('my-alice.smith-is-secret', { username: 'carol' }), 'accepted');
  });

  test('a username shorter than 3 characters is not searched for', () => {
    assert.equal(verdict('all along the watchtower', { username: 'al' }), 'accepted');
  });

  test('non-string or empty input is invalid', () => {
    for (const input of [undefined, null, 123, ['a'.repeat(20)], {}, '']) {
      assert.equal(verdict(input), 'invalid', JSON.stringify(input));
    }
  });

  test('NUL and other control characters are invalid', () => {
    for (const control of ['\u0000', '\t', '\n', '\r', '\u001b', '\u007f']) {
      const error = catchPolicyError(() => checkPassword(`kq7vmz2xw${control}9tplrhq`));
      assert.equal(error.rejection, 'invalid');
      assert.equal(error.message, 'password contains control characters');
    }
  });

  test('messages describe the rule and never echo the password', () => {
    const secret = 'kq7vmz2xw9t';
    const error = catchPolicyError(() => checkPassword(secret));
    assert.equal(error.message, 'password must be at least 15 characters');
    assert.equal(error.code, 'ERR_PASSWORD_POLICY');
    for (const password of ['PassWordPassword', `${secret}-zed-username`]) {
      const e = catchPolicyError(() => checkPassword(password, { username: 'zed-username' }));
      assert.ok(!e.message.toLowerCase().includes(password.toLowerCase()), e.message);
    }
  });

  test('the field defaults to "password" and can be overridden', () => {
    assert.equal(catchPolicyError(() => checkPassword('short')).field, 'password');
    assert.equal(catchPolicyError(() => checkPassword('short', { field: 'new_password' })).field, 'new_password');
  });

  test('minLength below 8 or not an integer is a caller mistake', () => {
    assert.throws(() => checkPassword('kq7vmz2xw9tplrh', {}, { minLength: 7 }), TypeError);
    assert.throws(() => checkPassword('kq7vmz2xw9tplrh', {}, { minLength: 12.5 }), TypeError);
  });
});

describe('checkPassword: accepted passwords', () => {
  test('64-character and 500-character random passwords are accepted', () => {
    assert.equal(verdict(randomBytes(48).toString('base64url')), 'accepted'); // 64 chars
    const long = randomBytes(375).toString('base64url');
    assert.equal(long.length, 500);
    assert.equal(verdict(long), 'accepted');
  });

  test('no composition rules: 20 random lowercase letters pass', () => {
    assert.equal(verdict(randomLowercase(20)), 'accepted');
    assert.equal(verdict('correct horse battery staple'), 'accepted');
  });

  test('minLength 8 accepts 8 characters and rejects 7', () => {
    assert.equal(verdict('kq7vmz2x', {}, { minLength: 8 }), 'accepted');
    assert.equal(verdict('kq7vmz2', {}, { minLength: 8 }), 'too_short');
  });
});
