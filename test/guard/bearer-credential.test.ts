import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { MalformedCredentialError } from '../../src/errors/errors.js';
import { authorizationHeaders, extractBearerCredential } from '../../src/guard/bearer-credential.js';

const extract = (rawHeaders: string[], query = '') => extractBearerCredential({ authorization: authorizationHeaders(rawHeaders), query });

describe('extractBearerCredential: refusals', () => {
  test('a token in the query string is refused even beside a valid header', () => {
    assert.throws(() => extract(['Authorization', 'Bearer abc'], 'access_token=abc'), MalformedCredentialError);
    assert.throws(() => extract([], 'x=1&access_token=abc'), MalformedCredentialError);
  });

  test('two Authorization headers are refused, whatever their case', () => {
    assert.throws(() => extract(['Authorization', 'Bearer a', 'authorization', 'Bearer b']), MalformedCredentialError);
  });

  test('malformed Bearer values are refused', () => {
    for (const value of ['Bearer', 'Bearer ', 'Bearer a b', 'Bearer tok,en', 'Bearer =abc', 'Bearer a"b']) {
      assert.throws(() => extract(['Authorization', value]), MalformedCredentialError, value);
    }
  });

  test('an unparseable header is refused', () => {
    assert.throws(() => extract(['Authorization', '(((']), MalformedCredentialError);
  });
});

describe('extractBearerCredential: what counts as no credential', () => {
  test('no header, another scheme, or identity headers are no credential', () => {
    assert.equal(extract([]), undefined);
    assert.equal(extract(['Authorization', 'Basic dXNlcjpwYXNz']), undefined);
    assert.equal(extract(['X-Forwarded-User', 'admin', 'X-User-Id', '1']), undefined);
  });

  test('a query string without access_token is fine', () => {
    assert.equal(extract(['Authorization', 'Bearer abc'], 'page=2'), 'abc');
  });
});

describe('extractBearerCredential: accepted forms', () => {
  test('the scheme is case-insensitive and b64token characters pass through', () => {
    assert.equal(extract(['authorization', 'bearer a.b-c_d~e+f/g==']), 'a.b-c_d~e+f/g==');
    assert.equal(extract(['Authorization', 'BEARER  xyz ']), 'xyz');
  });
});
