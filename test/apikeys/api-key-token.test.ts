import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { crc32 } from 'node:zlib';
import { API_KEY_LENGTH, claimsApiKey, mintApiKey, parseApiKey } from '../../src/apikeys/api-key-token.js';

describe('API key format: ghk_ + key id + secret + CRC32, base62', () => {
  test('malicious: a key with one character changed fails its checksum, offline', () => {
    const { token } = mintApiKey();
    for (const at of [4, 10, 30, 60, API_KEY_LENGTH - 1]) {
      const c = token[at]!;
      const changed = token.slice(0, at) + (c === 'a' ? 'b' : 'a') + token.slice(at + 1);
      assert.equal(parseApiKey(changed), undefined, `changed at ${at}`);
    }
  });

  test('malicious: wrong prefix, length, alphabet, padding or whitespace are no key', () => {
    const { token } = mintApiKey();
    for (const bad of [
      token.replace('ghk_', 'ghp_'),
      token.replace('ghk_', 'GHK_'),
      token.slice(0, -1),
      `${token}0`,
      ` ${token}`,
      `${token}\n`,
      token.slice(0, 20) + '-' + token.slice(21),
      token.slice(0, 20) + 'é' + token.slice(21),
      '',
      'ghk_',
    ])
      assert.equal(parseApiKey(bad), undefined, JSON.stringify(bad));
  });

  test('a minted key parses back to its parts; ids and secrets are fresh each time', () => {
    const a = mintApiKey();
    const b = mintApiKey();
    assert.equal(a.token.length, API_KEY_LENGTH);
    assert.match(a.token, /^ghk_[0-9A-Za-z]{66}$/);
    assert.deepEqual(parseApiKey(a.token), { keyId: a.keyId, secret: a.secret });
    assert.notEqual(a.keyId, b.keyId);
    assert.notEqual(a.secret, b.secret);
    assert.equal(claimsApiKey(a.token), true);
    assert.equal(claimsApiKey('eyJhbGciOi'), false);
  });

  test('the checksum is the CRC32 of everything before it, so a scanner can check it with any CRC32', () => {
    const { token } = mintApiKey();
    const digits = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
    const decoded = [...token.slice(-6)].reduce((n, ch) => n * 62 + digits.indexOf(ch), 0);
    assert.equal(decoded, crc32(token.slice(0, -6)));
  });

  test('the secret carries at least 256 bits: 43 base62 characters, all positions used across keys', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 200; i++) seen.add(mintApiKey().secret[0]!);
    // A leading position that is always padding would mean the width is wrong; 200 draws cover many digits.
    assert.ok(seen.size > 5, `first secret characters seen: ${[...seen].join('')}`);
    assert.equal(mintApiKey().secret.length, 43);
  });
});
