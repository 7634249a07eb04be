import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { hash as argon2Hash, verify as argon2Verify } from '@node-rs/argon2';
import type { Algorithm } from '@node-rs/argon2';
import { hash as bcryptRawHash, verify as bcryptVerify } from '@node-rs/bcrypt';

/** A legacy bcrypt hash (cost 4) with the given prefix; 2a/2b/2y differ only in the prefix for such input. */
async function bcryptHash(password: string, version: '2a' | '2b' | '2y' = '2b'): Promise<string> {
  return (await bcryptRawHash(password, 4)).replace(/^\$2[aby]\$/, `$${version}$`);
}
import { PasswordHasher } from '../../src/passwords/password-hasher.js';

const hasher = new PasswordHasher();
const PASSWORD = 'correct horse battery staple';
// One real current hash shared by the tests that only read it (each hash costs ~19 MiB and tens of ms).
const currentHash = hasher.hash(PASSWORD);

/** Swaps one `m=`, `t=` or `p=` value of a PHC string; the hash part no longer matches, which is fine for needsRehash. */
function withParam(phc: string, name: 'm' | 't' | 'p', value: number): string {
  return phc.replace(new RegExp(`([$,])${name}=\\d+`), `$1${name}=${value}`);
}

describe('PasswordHasher: malicious and edge cases', () => {
  test('a wrong password does not verify', async () => {
    const stored = await currentHash;
    assert.equal(await hasher.verify(stored, 'correct horse battery stapl'), false);
    assert.equal(await hasher.verify(stored, `${PASSWORD} `), false);
    assert.equal(await hasher.verify(stored, ''), false);
  });

  test('the whole password is hashed, never truncated', async () => {
    const long = 'a'.repeat(1000);
    const stored = await hasher.hash(long);
    assert.equal(await hasher.verify(stored, long), true);
    assert.equal(await hasher.verify(stored, `${'a'.repeat(999)}b`), false);
  });

  test('malformed or unknown stored hashes return false and never throw', async () => {
    const real = await currentHash;
    const malformed = [
      '',
      'plaintext-password',
      '5f4dcc3b5aa765d61d8327deb882cf99', // unsalted md5
      '$argon2id$v=19$m=19456,t=2,p=1$',
      '$argon2id$v=19$m=19456,t=2,p=1$!!!!$!!!!',
      '$argon2id$v=19$m=0,t=0,p=0$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA',
      real.slice(0, -10),
      real.replace('$argon2id$', '$argon2x$'),
      '$2b$10$short',
      `$2b$99$${'a'.repeat(53)}`,
      `$2b$10$${'!'.repeat(53)}`,
      '$scrypt$ln=16,r=8,p=1$c2FsdA$aGFzaA',
    ];
    for (const stored of malformed) {
      assert.equal(await hasher.verify(stored, PASSWORD), false, `accepted ${JSON.stringify(stored)}`);
    }
    assert.equal(await hasher.verify(undefined as unknown as string, PASSWORD), false);
    assert.equal(await hasher.verify(real, null as unknown as string), false);
  });

  test('a legacy bcrypt hash ($2b$) verifies and needs a rehash', async () => {
    const stored = await bcryptHash(PASSWORD);
    assert.match(stored, /^\$2b\$/);
    assert.equal(await hasher.verify(stored, PASSWORD), true);
    assert.equal(await hasher.verify(stored, 'wrong password here'), false);
    assert.equal(hasher.needsRehash(stored), true);
  });

  test('legacy $2a$ and $2y$ bcrypt hashes verify too', async () => {
    for (const version of ['2a', '2y'] as const) {
      const stored = await bcryptHash(PASSWORD, version);
      assert.ok(stored.startsWith(`$${version}$`));
      assert.equal(await hasher.verify(stored, PASSWORD), true, version);
      assert.equal(hasher.needsRehash(stored), true, version);
    }
  });

  test('a bcrypt hash does not verify a password longer than 72 bytes whose first 72 bytes match', async () => {
    const first72 = 'x'.repeat(70) + 'é'; // 70 + 2 = 72 UTF-8 bytes
    const stored = await bcryptHash(first72);
    const longer = `${first72}anything at all`;
    // bcrypt itself would accept it: this is the hole the hasher closes.
    assert.equal(await bcryptVerify(longer, stored), true);
    assert.equal(await hasher.verify(stored, longer), false);
    assert.equal(await hasher.verify(stored, first72), true, 'exactly 72 bytes still verifies');
  });

  test('needsRehash: argon2id with different m, t or p is true; the configured parameters are false', async () => {
    const stored = await currentHash;
    assert.equal(hasher.needsRehash(stored), false);
    assert.equal(hasher.needsRehash(withParam(stored, 'm', 65536)), true);
    assert.equal(hasher.needsRehash(withParam(stored, 't', 3)), true);
    assert.equal(hasher.needsRehash(withParam(stored, 'p', 2)), true);
    assert.equal(hasher.needsRehash(stored.replace('$v=19$', '$v=16$')), true);
    assert.equal(hasher.needsRehash('not a hash'), true);
  });

  test('needsRehash follows the configured parameters, and such hashes still verify elsewhere', async () => {
    const light = new PasswordHasher({ memoryCostKiB: 8192, timeCost: 1, parallelism: 1 });
    const stored = await light.hash(PASSWORD);
    assert.ok(stored.startsWith('$argon2id$v=19$m=8192,t=1,p=1$'));
    assert.equal(light.needsRehash(stored), false);
    assert.equal(hasher.needsRehash(stored), true);
    assert.equal(light.needsRehash(await currentHash), true);
    assert.equal(await hasher.verify(stored, PASSWORD), true);
  });

  test('argon2i and argon2d hashes verify but need a rehash', async () => {
    const variants = [
      { name: 'argon2d', algorithm: 0 as Algorithm.Argon2d },
      { name: 'argon2i', algorithm: 1 as Algorithm.Argon2i },
    ];
    for (const { name, algorithm } of variants) {
      const stored = await argon2Hash(PASSWORD, { algorithm, memoryCost: 19456, timeCost: 2, parallelism: 1 });
      assert.ok(stored.startsWith(`$${name}$v=19$m=19456,t=2,p=1$`));
      assert.equal(await hasher.verify(stored, PASSWORD), true, name);
      assert.equal(hasher.needsRehash(stored), true, name);
    }
  });

  test('NFKC: a full-width variant verifies against the hash of its NFKC form, and the reverse', async () => {
    const ascii = 'password-for-nfkc-test';
    const fullWidth = 'ｐａｓｓｗｏｒｄ－ｆｏｒ－ｎｆｋｃ－ｔｅｓｔ';
    assert.equal(fullWidth.normalize('NFKC'), ascii);
    assert.equal(await hasher.verify(await hasher.hash(ascii), fullWidth), true);
    const fromFullWidth = await hasher.hash(fullWidth);
    assert.equal(await hasher.verify(fromFullWidth, ascii), true);
    // The stored bytes are those of the NFKC form.
    assert.equal(await argon2Verify(fromFullWidth, ascii), true);
  });

  test('NFKC: decomposed e + U+0301 verifies against the hash of precomposed é', async () => {
    const composed = 'caf\u00e9 au lait, s\u2019il vous pla\u00eet';
    const decomposed = 'cafe\u0301 au lait, s\u2019il vous plai\u0302t';
    assert.notEqual(composed, decomposed);
    assert.equal(await hasher.verify(await hasher.hash(composed), decomposed), true);
  });

  test('bad options are a caller mistake: TypeError', () => {
    assert.throws(() => new PasswordHasher({ parallelism: 0 }), TypeError);
    assert.throws(() => new PasswordHasher({ timeCost: 1.5 }), TypeError);
    assert.throws(() => new PasswordHasher({ memoryCostKiB: 8, parallelism: 2 }), TypeError);
  });
});

describe('PasswordHasher: normal use', () => {
  test('hash produces an argon2id PHC string with the OWASP parameters', async () => {
    const stored = await currentHash;
    assert.ok(stored.startsWith('$argon2id$v=19$m=19456,t=2,p=1$'), stored.slice(0, 40));
    assert.equal(await hasher.verify(stored, PASSWORD), true);
  });

  test('two hashes of one password differ (random salt)', async () => {
    assert.notEqual(await hasher.hash(PASSWORD), await currentHash);
  });

  test('dummyVerify resolves, for an unknown user, concurrently and repeatedly', async () => {
    const fresh = new PasswordHasher();
    await Promise.all([fresh.dummyVerify(PASSWORD), fresh.dummyVerify('other'), fresh.dummyVerify('')]);
    assert.equal(await fresh.dummyVerify(PASSWORD), undefined);
  });
});
