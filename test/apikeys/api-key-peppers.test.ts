import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { apiKeyPeppers, DEVELOPMENT_PEPPER_FILE } from '../../src/apikeys/api-key-peppers.js';
import { resolveApiKeyPeppers } from '../../src/apikeys/development-pepper.js';
import { loadConfig } from '../../src/config/config.js';
import { ConfigError } from '../../src/errors/errors.js';

const pepper = () => randomBytes(32).toString('base64url');

describe('api key peppers', () => {
  test('malicious: the stored digest presented as the secret does not match', () => {
    const peppers = apiKeyPeppers([pepper()]);
    const stored = peppers.digest('the-secret');
    assert.equal(peppers.matches(stored.digest, stored), false);
    assert.equal(peppers.matches('the-secret', stored), true);
  });

  test('malicious: a copy of the database under another server (another pepper) cannot use a key', () => {
    const stored = apiKeyPeppers([pepper()]).digest('the-secret');
    assert.equal(apiKeyPeppers([pepper()]).matches('the-secret', stored), false);
  });

  test('rotation: a key digested under the old pepper still verifies once a new pepper is first', () => {
    const [old, next] = [pepper(), pepper()];
    const stored = apiKeyPeppers([old]).digest('the-secret');
    const rotated = apiKeyPeppers([next, old]);
    assert.equal(rotated.matches('the-secret', stored), true);
    assert.notEqual(rotated.digest('the-secret').pepperId, stored.pepperId, 'new digests name the new pepper');
    assert.equal(apiKeyPeppers([next]).matches('the-secret', stored), false, 'once the old pepper is dropped, its keys die');
  });

  test('weak and placeholder peppers are refused by loadConfig, without quoting them', () => {
    for (const value of ['short', 'change-me-change-me-change-me-change-me-change-me', Buffer.alloc(32, 7).toString('base64url')]) {
      assert.throws(
        () => loadConfig({ GATEHOUSE_ENV: 'development', GATEHOUSE_API_KEY_PEPPER: value }),
        (error: unknown) => error instanceof ConfigError && error.problems.some((p) => p.startsWith('GATEHOUSE_API_KEY_PEPPER:') && !p.includes(value)),
      );
    }
  });

  test('production without a pepper stops serve; a database-only command starts and fails only on use', async () => {
    const base = { apiKeyPeppers: [], env: 'production' as const, dataDir: '/nonexistent' };
    await assert.rejects(resolveApiKeyPeppers({ ...base, needs: 'server' }), ConfigError);
    const lazy = await resolveApiKeyPeppers({ ...base, needs: 'database' });
    assert.throws(() => lazy.digest('x'), ConfigError);
  });

  test('development: generated once in the data dir, mode 0600, the same on the next start', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'gh-pepper-'));
    try {
      const config = { apiKeyPeppers: [], env: 'development' as const, dataDir: dir, needs: 'server' as const };
      const first = await resolveApiKeyPeppers(config);
      const path = join(dir, DEVELOPMENT_PEPPER_FILE);
      assert.equal((await stat(path)).mode & 0o777, 0o600);
      const stored = first.digest('s');
      assert.equal((await resolveApiKeyPeppers(config)).matches('s', stored), true);
      assert.match((await readFile(path, 'utf8')).trim(), /^[A-Za-z0-9_-]{43}$/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
