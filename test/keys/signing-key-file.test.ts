import assert from 'node:assert/strict';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ConfigError } from '../../src/errors/errors.js';
import { generateSigningJwk } from '../../src/keys/development-keys.js';
import { DEVELOPMENT_MARKER, readSigningKeyFile, type PrivateSigningJwk } from '../../src/keys/signing-key-file.js';

let dir: string;
let good: PrivateSigningJwk;
let second: PrivateSigningJwk;
let fileCount = 0;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'gatehouse-keyfile-'));
  good = await generateSigningJwk();
  second = await generateSigningJwk();
});
after(() => rm(dir, { recursive: true, force: true }));

/** Writes a key file with exactly `mode` (chmod after writing, so the umask cannot interfere). */
async function keyFile(content: unknown, mode = 0o600): Promise<string> {
  const path = join(dir, `keys-${fileCount++}.json`);
  await writeFile(path, typeof content === 'string' ? content : JSON.stringify(content));
  await chmod(path, mode);
  return path;
}

/** The problems of the ConfigError the promise rejects with. */
async function problemsOf(promise: Promise<unknown>): Promise<readonly string[]> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof ConfigError, `expected ConfigError, got ${String(error)}`);
    assert.equal(error.code, 'ERR_CONFIG_INVALID');
    return error.problems;
  }
  assert.fail('expected the key file to be refused');
}

const production = { production: true };
const development = { production: false };

describe('readSigningKeyFile in production: refusals', () => {
  test('a file readable by group or others is refused (0644, 0640, 0604)', async () => {
    for (const mode of [0o644, 0o640, 0o604]) {
      const path = await keyFile({ keys: [good] }, mode);
      assert.deepEqual(await problemsOf(readSigningKeyFile(path, production)), [
        `GATEHOUSE_SIGNING_KEYS: ${path} is readable by other users (mode ${mode.toString(8)}); run chmod 600 on it`,
      ]);
    }
  });

  test('a file holding generated development keys is refused, even at mode 0600', async () => {
    const path = await keyFile({ [DEVELOPMENT_MARKER]: true, keys: [good] });
    const problems = await problemsOf(readSigningKeyFile(path, production));
    assert.equal(problems.length, 1);
    assert.match(problems[0] as string, /^GATEHOUSE_SIGNING_KEYS: .* holds generated development keys/);
  });

  test('every problem is reported at once: mode, development marker, each bad key, a duplicate kid', async () => {
    const hmac = { kty: 'oct', k: randomBytes(32).toString('base64url'), kid: 'hmac', alg: 'HS256' };
    const weakRsa = { ...generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({ format: 'jwk' }), kid: 'weak', alg: 'RS256' };
    const path = await keyFile({ [DEVELOPMENT_MARKER]: true, keys: [hmac, weakRsa, good, { ...second, kid: good.kid }] }, 0o644);
    const problems = await problemsOf(readSigningKeyFile(path, { production: true, variable: 'KEYS_VAR' }));
    assert.deepEqual(problems, [
      `KEYS_VAR: ${path} is readable by other users (mode 644); run chmod 600 on it`,
      `KEYS_VAR: ${path} holds generated development keys; create production keys (see README, "Production checklist")`,
      'KEYS_VAR: keys[0]: symmetric ("oct") keys are not accepted; use EdDSA (Ed25519), ES256 or RS256',
      'KEYS_VAR: keys[1]: RSA keys must be at least 2048 bits',
      `KEYS_VAR: kid ${JSON.stringify(good.kid)} appears twice`,
    ]);
    // None of them repeats private key material.
    const text = problems.join('\n');
    for (const secret of [hmac.k, weakRsa.d, good.d]) assert.equal(text.includes(secret as string), false);
  });

  test('the mode problem is reported beside a parse problem', async () => {
    const path = await keyFile('{ not json', 0o644);
    const problems = await problemsOf(readSigningKeyFile(path, production));
    assert.equal(problems.length, 2);
    assert.match(problems[0] as string, /readable by other users/);
    assert.match(problems[1] as string, /is not valid JSON$/);
  });
});

describe('readSigningKeyFile: malformed files (any mode)', () => {
  test('a missing file is refused with its errno, not a stack trace', async () => {
    const path = join(dir, 'does-not-exist.json');
    assert.deepEqual(await problemsOf(readSigningKeyFile(path, development)), [`GATEHOUSE_SIGNING_KEYS: cannot read ${path} (ENOENT)`]);
  });

  test('not JSON, not a JWKS document, or no keys is refused', async () => {
    for (const [content, expected] of [
      ['{ not json', /is not valid JSON$/],
      [{ kty: 'OKP' }, /must be a JWKS document/],
      [{ keys: 'none' }, /must be a JWKS document/],
      ['null', /must be a JWKS document/],
      [{ keys: [] }, /holds no keys$/],
    ] as const) {
      const problems = await problemsOf(readSigningKeyFile(await keyFile(content), development));
      assert.equal(problems.length, 1, JSON.stringify(content));
      assert.match(problems[0] as string, expected);
    }
  });

  test('regression: a null entry in keys is a reported problem, not a TypeError', async () => {
    const path = await keyFile({ keys: [null, good] });
    assert.deepEqual(await problemsOf(readSigningKeyFile(path, development)), ['GATEHOUSE_SIGNING_KEYS: keys[0]: must be a JSON object']);
  });
});

describe('readSigningKeyFile: accepted files', () => {
  test('production accepts a valid 0600 file and returns its keys in order', async () => {
    const path = await keyFile({ keys: [good, second] }, 0o600);
    const keys = await readSigningKeyFile(path, production);
    assert.deepEqual(
      keys.map((k) => k.kid),
      [good.kid, second.kid],
    );
  });

  test('development does not check the mode and accepts the development marker', async () => {
    const path = await keyFile({ [DEVELOPMENT_MARKER]: true, keys: [good] }, 0o644);
    assert.equal((await readSigningKeyFile(path, development))[0]?.kid, good.kid);
  });
});
