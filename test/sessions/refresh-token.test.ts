import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, test } from 'node:test';
import { digestRefreshToken, generateRefreshToken, isRefreshTokenShaped, REFRESH_TOKEN_PREFIX } from '../../src/sessions/refresh-token.js';

describe('refresh-token', () => {
  test('shape: ghr_ then 43 base64url characters', () => {
    assert.equal(REFRESH_TOKEN_PREFIX, 'ghr_');
    for (let i = 0; i < 200; i++) assert.match(generateRefreshToken(), /^ghr_[A-Za-z0-9_-]{43}$/);
  });

  test('256 bits: the random part decodes to exactly 32 bytes', () => {
    const token = generateRefreshToken();
    const raw = Buffer.from(token.slice(REFRESH_TOKEN_PREFIX.length), 'base64url');
    assert.equal(raw.length, 32);
    assert.equal(raw.toString('base64url'), token.slice(REFRESH_TOKEN_PREFIX.length), 'canonical base64url, no padding');
  });

  test('no two tokens alike, and the bytes are not constant', () => {
    const tokens = Array.from({ length: 1000 }, () => generateRefreshToken());
    assert.equal(new Set(tokens).size, tokens.length);
    // Every byte position takes many values across 1000 tokens: a fixed or counter-like source fails.
    const raws = tokens.map((t) => Buffer.from(t.slice(4), 'base64url'));
    for (let i = 0; i < 32; i++) assert.ok(new Set(raws.map((r) => r[i])).size > 100, `byte ${i} barely varies`);
  });

  test('the digest is the SHA-256 hex of the whole token, prefix included', () => {
    const token = generateRefreshToken();
    const d = digestRefreshToken(token);
    assert.match(d, /^[0-9a-f]{64}$/);
    assert.equal(d, createHash('sha256').update(token, 'utf8').digest('hex'));
    assert.notEqual(d, createHash('sha256').update(token.slice(4), 'utf8').digest('hex'));
    // Known vector (FIPS 180-2): SHA-256("abc").
    assert.equal(digestRefreshToken('abc'), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  });

  test('isRefreshTokenShaped: accepts only the exact shape', () => {
    const token = generateRefreshToken();
    assert.equal(isRefreshTokenShaped(token), true);
    for (const bad of [
      '',
      'ghr_',
      token.slice(0, -1),
      `${token}A`,
      `GHR_${token.slice(4)}`,
      `ghp_${token.slice(4)}`,
      token.slice(4),
      ` ${token}`,
      `${token}\n`,
      `ghr_${'A'.repeat(42)}=`,
      `ghr_${'A'.repeat(42)}+`,
      `ghr_${'A'.repeat(42)}/`,
      'eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln',
    ]) {
      assert.equal(isRefreshTokenShaped(bad), false, JSON.stringify(bad));
    }
  });
});
