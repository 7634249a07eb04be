import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { isUndecodableQuery, parseStrictQueryString } from '../../src/http/strict-query-string.js';

describe('parseStrictQueryString', () => {
  test('decodes as the default parser does: "+" is a space, repeated names become a list, a bare name is empty', () => {
    const query = parseStrictQueryString('a=b%20c+d&a=%C3%A9&flag&&e=');
    assert.deepEqual({ ...query }, { a: ['b c d', 'é'], flag: '', e: '' });
    assert.equal(isUndecodableQuery(query), false);
  });

  test('malicious: what does not decode is marked, not kept as raw text', () => {
    for (const text of ['x=%ff', 'x=%', 'x=%zz', '%C0%AF=1', 'x=%ed%a0%80']) {
      const query = parseStrictQueryString(text);
      assert.equal(isUndecodableQuery(query), true, text);
      assert.deepEqual(Object.keys(query), [], text);
    }
  });

  test('a name like __proto__ is an ordinary key', () => {
    const query = parseStrictQueryString('__proto__=x&constructor=y');
    assert.equal(Object.getPrototypeOf(query), null);
    assert.equal(query['__proto__'], 'x');
  });
});
