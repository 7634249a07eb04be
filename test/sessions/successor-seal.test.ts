import assert from 'node:assert/strict';
import { createDecipheriv, hkdfSync } from 'node:crypto';
import { describe, test } from 'node:test';
import { digestRefreshToken, generateRefreshToken } from '../../src/sessions/refresh-token.js';
import { openSuccessor, sealSuccessor } from '../../src/sessions/successor-seal.js';

const SEAL_SHAPE = /^gs1\.[A-Za-z0-9_-]+$/;

/** Flips one bit of the decoded seal at `index` (negative: from the end) and re-encodes it. */
function flipByte(sealed: string, index: number): string {
  const raw = Buffer.from(sealed.slice('gs1.'.length), 'base64url');
  const at = index < 0 ? raw.length + index : index;
  raw[at] = (raw[at] ?? 0) ^ 0x01;
  return `gs1.${raw.toString('base64url')}`;
}

describe('successor seal', () => {
  describe('malicious cases', () => {
    test('a wrong token cannot open a seal: another token, a one-character change, the digest the database holds', () => {
      const spent = generateRefreshToken();
      const sealed = sealSuccessor(spent, generateRefreshToken());
      const lastChar = spent.at(-1) === 'A' ? 'B' : 'A';
      for (const wrong of [generateRefreshToken(), `${spent.slice(0, -1)}${lastChar}`, digestRefreshToken(spent), spent.slice(4), '', `${spent} `]) {
        assert.equal(openSuccessor(wrong, sealed), undefined, JSON.stringify(wrong));
      }
    });

    test('a tampered seal does not open: a bit flipped in the IV, the ciphertext or the tag', () => {
      const spent = generateRefreshToken();
      const sealed = sealSuccessor(spent, generateRefreshToken());
      for (const index of [0, 11, 12, 30, -17, -16, -1]) {
        assert.equal(openSuccessor(spent, flipByte(sealed, index)), undefined, `byte ${index}`);
      }
    });

    test('malformed seals return undefined and never throw', () => {
      const spent = generateRefreshToken();
      const sealed = sealSuccessor(spent, generateRefreshToken());
      const body = sealed.slice(4);
      const malformed = [
        '',
        'gs1.',
        body, // no version prefix
        `gs2.${body}`,
        `GS1.${body}`,
        `${sealed}=`,
        `${sealed}!`,
        'gs1.' + '\u00e9'.repeat(60),
        sealed.slice(0, 4 + 36), // IV and tag only: no ciphertext
        sealed.slice(0, -4), // truncated tag
        `gs1.${Buffer.alloc(28).toString('base64url')}`,
        `gs1.${Buffer.alloc(200).toString('base64url')}`,
      ];
      for (const value of malformed) {
        assert.doesNotThrow(() => openSuccessor(spent, value));
        assert.equal(openSuccessor(spent, value), undefined, JSON.stringify(value));
      }
    });

    test('the seal does not contain the successor, its random part, nor the spent token', () => {
      const spent = generateRefreshToken();
      const successor = generateRefreshToken();
      const sealed = sealSuccessor(spent, successor);
      for (const secret of [successor, successor.slice(4), spent, spent.slice(4)]) {
        assert.ok(!sealed.includes(secret));
        assert.ok(!Buffer.from(sealed.slice(4), 'base64url').includes(Buffer.from(secret)), 'not in the decoded bytes either');
      }
    });
  });

  test('the holder of the spent token opens the seal to the successor', () => {
    const spent = generateRefreshToken();
    const successor = generateRefreshToken();
    const sealed = sealSuccessor(spent, successor);
    assert.match(sealed, SEAL_SHAPE);
    assert.equal(openSuccessor(spent, sealed), successor);
  });

  test('a fresh IV each time: sealing one pair twice gives two different seals that both open', () => {
    const spent = generateRefreshToken();
    const successor = generateRefreshToken();
    const a = sealSuccessor(spent, successor);
    const b = sealSuccessor(spent, successor);
    assert.notEqual(a, b);
    assert.notEqual(a.slice(4, 20), b.slice(4, 20), 'the IVs differ');
    assert.equal(openSuccessor(spent, a), successor);
    assert.equal(openSuccessor(spent, b), successor);
  });

  test('format: "gs1." + base64url(96-bit IV | AES-256-GCM ciphertext | 128-bit tag), key = HKDF-SHA256 of the spent token', () => {
    // An independent decryption, so the documented construction is what the code does.
    const spent = generateRefreshToken();
    const successor = generateRefreshToken();
    const raw = Buffer.from(sealSuccessor(spent, successor).slice(4), 'base64url');
    assert.equal(raw.length, 12 + Buffer.byteLength(successor) + 16);
    const key = Buffer.from(hkdfSync('sha256', spent, 'gatehouse/refresh-token/successor-seal', 'aes-256-gcm key v1', 32));
    const decipher = createDecipheriv('aes-256-gcm', key, raw.subarray(0, 12));
    decipher.setAuthTag(raw.subarray(raw.length - 16));
    const plain = Buffer.concat([decipher.update(raw.subarray(12, raw.length - 16)), decipher.final()]).toString('utf8');
    assert.equal(plain, successor);
  });
});
