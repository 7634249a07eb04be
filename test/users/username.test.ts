import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ValidationError } from '../../src/errors/errors.js';
import { normalizeUsername, usernameKey } from '../../src/users/username.js';

function refused(raw: string, field = 'username'): void {
  assert.throws(
    () => normalizeUsername(raw, field),
    (error: unknown) => error instanceof ValidationError && error.issues.length === 1 && error.issues[0]?.field === field,
    JSON.stringify(raw),
  );
}

describe('normalizeUsername', () => {
  test('refuses separators, markup, controls, invisible and bidi characters', () => {
    for (const raw of [
      'bad name',
      'a/b',
      '<script>',
      'a\\b',
      'tab\tname',
      'nul\u0000l',
      'zero\u200bwidth',
      'rtl\u202eoverride',
      'nbsp\u00a0name',
      'emoji😀x',
      'a@b',
    ])
      refused(raw);
  });

  test('3 to 64 characters, counted after NFKC', () => {
    refused('ab');
    refused('x'.repeat(65));
    refused('\uFB00'.repeat(33)); // 33 "ﬀ" become 66 characters
    assert.equal(normalizeUsername('abc').display, 'abc');
    assert.equal(normalizeUsername('x'.repeat(64)).display.length, 64);
    assert.equal(normalizeUsername('\uFB00'.repeat(32)).display, 'f'.repeat(64));
  });

  test('a string that is short only before NFKC is judged after it: "ﬀ" alone is 2 characters', () => {
    refused('\uFB00');
    assert.equal(normalizeUsername('a\uFB00').display, 'aff');
  });

  test('display keeps case; the key folds case and width', () => {
    const name = normalizeUsername('Ａlice.B_c-1');
    assert.equal(name.display, 'Alice.B_c-1');
    assert.equal(name.key, 'alice.b_c-1');
  });

  test("the field named in the error is the caller's", () => {
    refused('no', 'new_username');
  });
});

describe('usernameKey', () => {
  test('case and width variants share one key', () => {
    const key = usernameKey('alice');
    for (const variant of ['Alice', 'ALICE', 'ａｌｉｃｅ', 'ＡＬＩＣＥ']) assert.equal(usernameKey(variant), key, variant);
  });

  test('composed and decomposed accents share one key', () => {
    assert.equal(usernameKey('Jos\u00e9'), usernameKey('Jose\u0301'));
  });
});

describe('normalizeUsername: look-alike accounts', () => {
  test('letters from two scripts are refused: Cyrillic "а" or Greek "ο" inside a Latin name', () => {
    refused('\u0430lice'); // Cyrillic small a
    refused('b\u03bfb'); // Greek small omicron
    refused('pay\u0440al'); // Cyrillic er
  });

  test('one script, or the mixes that are ordinary writing, are accepted', () => {
    assert.equal(normalizeUsername('иван').display, 'иван');
    assert.equal(normalizeUsername('josé_92').display, 'josé_92');
    assert.equal(normalizeUsername('山田タロウ').display, '山田タロウ');
    assert.equal(normalizeUsername('kim김철수').display, 'kim김철수');
    assert.equal(normalizeUsername('ελένη').display, 'ελένη');
  });
});

/** Refused with `message` as the reason (the first issue), not some other rule's. */
function refusedFor(raw: string, message: RegExp): void {
  assert.throws(
    () => normalizeUsername(raw),
    (error: unknown) => error instanceof ValidationError && error.issues.length === 1 && message.test(error.issues[0]?.message ?? ''),
    JSON.stringify(raw),
  );
}

describe('normalizeUsername: UTS #39 identifier rules (issue 19 item 9)', () => {
  test('Hangul fillers and other default-ignorable code points are invisible: refused', () => {
    // U+3164 and U+FFA0 become U+1160 under NFKC; all are letters (Lo), so the character class let them in.
    for (const raw of ['alice\u1160', 'alice\u3164', 'alice\uffa0', '\u115falice', 'ali\u3164ce']) refusedFor(raw, /invisible/);
  });

  test('a digit of another script counts as that script: "b०b" (Devanagari zero) is refused', () => {
    refusedFor('b\u0966b', /scripts/);
    refusedFor('user\u0661', /scripts/); // Arabic-Indic one after Latin letters
  });

  test('digits of two numbering systems are refused, even in one script: "٣" and "۳" look alike', () => {
    refusedFor('\u0639\u0644\u064a\u0663\u06f3', /numbering systems/);
    refusedFor('\u0639\u0644\u064a1\u0663', /numbering systems/);
  });

  test('one numbering system is accepted, and ASCII digits go with any script', () => {
    assert.equal(normalizeUsername('\u0639\u0644\u064a\u0663\u0664').display, '\u0639\u0644\u064a\u0663\u0664');
    assert.equal(normalizeUsername('\u0930\u092e\u0967\u0968').display, '\u0930\u092e\u0967\u0968');
    assert.equal(normalizeUsername('иван2').display, 'иван2');
    assert.equal(normalizeUsername('bob_1999').display, 'bob_1999');
  });
});
