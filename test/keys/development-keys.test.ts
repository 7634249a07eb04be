import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ConfigError } from '../../src/errors/errors.js';
import { DEVELOPMENT_KEY_FILE, generateSigningJwk, loadOrCreateDevelopmentKeys } from '../../src/keys/development-keys.js';
import { validatePrivateSigningJwk } from '../../src/keys/jwk-validation.js';
import { DEVELOPMENT_MARKER, readSigningKeyFile } from '../../src/keys/signing-key-file.js';

let root: string;
let dirCount = 0;
before(async () => {
  root = await mkdtemp(join(tmpdir(), 'gatehouse-devkeys-'));
});
after(() => rm(root, { recursive: true, force: true }));

/** A data directory that does not exist yet (nested, so mkdir must be recursive). */
const freshDataDir = () => join(root, `run-${dirCount++}`, 'data');

describe('generateSigningJwk', () => {
  test('makes an Ed25519 private key that passes validation, with its RFC 7638 thumbprint as kid', async () => {
    const jwk = await generateSigningJwk();
    assert.equal(jwk.kty, 'OKP');
    assert.equal(jwk.crv, 'Ed25519');
    assert.equal(jwk.alg, 'EdDSA');
    assert.match(jwk.kid, /^[A-Za-z0-9_-]{43}$/);
    assert.deepEqual(validatePrivateSigningJwk(jwk, 'k'), []);
    assert.notEqual((await generateSigningJwk()).kid, jwk.kid);
  });
});

describe('loadOrCreateDevelopmentKeys', () => {
  test('first run creates the key file with mode 0600 in a 0700 directory', async () => {
    const dataDir = freshDataDir();
    const result = await loadOrCreateDevelopmentKeys(dataDir);
    assert.equal(result.created, true);
    assert.equal(result.path, join(dataDir, DEVELOPMENT_KEY_FILE));
    assert.equal((await stat(result.path)).mode & 0o777, 0o600);
    assert.equal((await stat(dataDir)).mode & 0o777, 0o700);
    assert.equal(result.keys.length, 1);
    assert.deepEqual(validatePrivateSigningJwk(result.keys[0], 'keys[0]'), []);
  });

  test('the file is marked development-only, so production refuses it', async () => {
    const { path } = await loadOrCreateDevelopmentKeys(freshDataDir());
    const document = JSON.parse(await readFile(path, 'utf8')) as Record<string, unknown>;
    assert.equal(document[DEVELOPMENT_MARKER], true);
    await assert.rejects(readSigningKeyFile(path, { production: true }), (error: unknown) => {
      assert.ok(error instanceof ConfigError);
      assert.equal(error.problems.length, 1);
      assert.match(error.problems[0] as string, /holds generated development keys/);
      return true;
    });
  });

  test('a second run loads the same key instead of making a new one', async () => {
    const dataDir = freshDataDir();
    const first = await loadOrCreateDevelopmentKeys(dataDir);
    const again = await loadOrCreateDevelopmentKeys(dataDir);
    assert.equal(again.created, false);
    assert.equal(again.keys[0]?.kid, first.keys[0]?.kid);
    assert.equal(again.keys[0]?.d, first.keys[0]?.d);
  });

  test('concurrent first runs end up on one key', async () => {
    const dataDir = freshDataDir();
    const results = await Promise.all([loadOrCreateDevelopmentKeys(dataDir), loadOrCreateDevelopmentKeys(dataDir)]);
    assert.equal(results.filter((r) => r.created).length, 1);
    assert.equal(results[0].keys[0]?.kid, results[1].keys[0]?.kid);
  });
});
