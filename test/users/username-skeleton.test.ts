import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { skeleton, usernameSkeletons } from '../../src/users/username-skeleton.js';
import { usernameKey } from '../../src/users/username.js';

/** Whether two usernames share a skeleton, the way the user store compares them. */
function lookAlike(a: string, b: string): boolean {
  const [x, y] = [usernameSkeletons(usernameKey(a)), usernameSkeletons(usernameKey(b))];
  return x.lower === y.lower || x.upper === y.upper;
}

describe('UTS #39 skeleton', () => {
  test('the skeleton maps each character to its prototype, between two NFD passes', () => {
    assert.equal(skeleton('\u0430\u0441\u0435'), 'ace'); // Cyrillic
    assert.equal(skeleton('m'), 'rn');
    assert.equal(skeleton('\u00e9'), skeleton('e\u0301'));
    assert.equal(skeleton('a\u200db'), 'ab'); // default-ignorable removed
  });

  test('look-alikes of an existing name share a skeleton (issue 19 item 9)', () => {
    for (const [taken, lookalike] of [
      ['admin', 'adm\u0131n'], // dotless i
      ['ace', '\u0430\u0441\u0435'], // all Cyrillic
      ['ADMIN', '\ua4ee\ua4d3\ua4df\ua4f2\ua4e0'], // Lisu
      ['admin', '\ua4ee\ua4d3\ua4df\ua4f2\ua4e0'], // "ADMIN" is the account "admin"
      ['bob', '\u0412\u041e\u0412'], // Cyrillic capitals "ВОВ"
      ['modern', 'rnodern'],
      ['paypal', 'paypa1'],
    ] as const) {
      assert.ok(lookAlike(taken, lookalike), `${taken} / ${lookalike}`);
    }
  });

  test('names that only share letters do not', () => {
    for (const [a, b] of [
      ['alice', 'alicia'],
      ['ian', 'lan'],
      ['maria', 'marla'],
      ['kim김철수', 'kim김철호'],
    ] as const) {
      assert.ok(!lookAlike(a, b), `${a} / ${b}`);
    }
  });
});
