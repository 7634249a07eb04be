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
    const animals = [...'🦊🐻🐼🐨🐯🦁🐮🐷🐸🐵🐔🐧🐦🐤🦆'];
    assert.equal(verdict(animals.slice(0, 14).join('')), 'too_short');
    assert.equal(verdict(animals.join('')), 'accepted');
    // U+FB03 'ﬃ' is one code point typed, three after NFKC: 13 typed are 15.
    assert.equal(verdict('kq7vmz2xw9tpﬃ'), 'accepted');
    assert.equal(verdict('kq7vmz2xw9tﬃ'), 'too_short');
  });

  test('more than 1024 UTF-8 bytes is too long, counted in bytes not characters', () => {
    // 513 × 'é' is 513 characters but 1026 bytes.
    assert.equal(verdict('\u00e9'.repeat(513)), 'too_long');
    // 512 two-byte letters (à–ÿ, stepping by 7 so that neither a run nor a sequence forms).
    const twoByte = Array.from({ length: 512 }, (_, i) => String.fromCharCode(0xe0 + ((i * 7) % 32))).join('');
    assert.equal(verdict(twoByte), 'accepted');
    assert.equal(verdict(`${twoByte}x`), 'too_long');
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

describe('checkPassword: patterns and context (issue 19 item 11, NIST SP 800-63B-4 §3.1.1.2)', () => {
  /** The rule that must refuse these is a new one: none of them is on the list as typed. */
  function refusedAs(rejection: PasswordRejection, passwords: readonly string[], context?: PasswordContext): void {
    for (const password of passwords) {
      assert.ok(!isCommonPassword(password.normalize('NFKC').toLowerCase()), `${JSON.stringify(password)} is on the list itself`);
      assert.equal(verdict(password, context), rejection, JSON.stringify(password));
    }
  }

  test('whitespace only or invisible only: 15 spaces, 15 zero-width spaces, Hangul fillers, Braille blanks', () => {
    refusedAs('invisible', [
      ' '.repeat(15),
      '\u200b'.repeat(15),
      '\u3164'.repeat(15),
      '\u2800'.repeat(15),
      '\u3000 \u00a0\u2003'.repeat(5),
      '\u200b \u200d'.repeat(8),
    ]);
  });

  test('invisible characters do not count toward the length', () => {
    assert.equal(verdict('kq7vmz2xw9tpl\u200b\u200b'), 'too_short');
    assert.equal(verdict('kq7vmz2xw9tplrh\u200b'), 'accepted');
  });

  test('one character mostly, or one short unit repeated', () => {
    refusedAs('repetitive', [
      'a'.repeat(20),
      'aaaaaaaaaaaaaaaaaaa1',
      '!!!!!!!!!!!!!!!!x',
      'ab'.repeat(10),
      'abcabcabcabcabcabc',
      'horsebatteryhorsebattery',
      'aaaa bbbb cccc dddd',
      '\u00e9'.repeat(20),
    ]);
  });

  test('sequences and keyboard rows', () => {
    refusedAs('sequential', [
      '234567890123456',
      'abcdefghijklmno',
      'zyxwvutsrqponml',
      'qwertyuiopasdfg',
      '0987654321poiuytrewq',
      'mnbvcxzlkjhgfdsa',
      'ertyuiop12345678',
    ]);
  });

  test('a listed password with digits, symbols or spaces around or inside it is still common', () => {
    refusedAs('common', ['password1234567', '!!!!password!!!!', '2024 password 2024', 'pass word pass word', '  sunshine!!!!!!!']);
  });

  test("the service name, the username or the email's local part dominating the password", () => {
    refusedAs('context', ['gatehouse2024!!!', 'Gatehouse-1234!x'], {});
    refusedAs('context', ['bobsmith-bobsmith1', 'smith.smith#2024'], { username: 'zed', email: 'bob.smith@example.com' });
  });

  test('the refusing rule is the log reason; the code is always ERR_PASSWORD_POLICY', () => {
    const error = catchPolicyError(() => checkPassword('qwertyuiopasdfg'));
    assert.equal(error.code, 'ERR_PASSWORD_POLICY');
    assert.equal(error.logReason, 'sequential');
    assert.ok(!error.message.includes('qwertyuiopasdfg'));
  });

  test('passphrases and random passwords with a pattern inside are not refused', () => {
    for (const password of [
      'correct horse battery staple',
      'liberty bell rings 2023',
      'mississippi banana river',
      'my gatehouse is where i work',
      'Summer2024!!!!!!',
      'kq7vmz2xw9tplrh!!!',
      'abcd kq7vmz2xw9tplrh',
      'bob.smith likes long walks',
    ]) {
      assert.equal(verdict(password, { username: 'zed', email: 'bob.smith@example.com' }), 'accepted', password);
    }
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
