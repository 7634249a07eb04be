import assert from 'node:assert/strict';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { sql } from 'drizzle-orm';
import { loadConfig } from '../../src/config/config.js';
import { ConfigError } from '../../src/errors/errors.js';
import { DEVELOPMENT_KEK_FILE } from '../../src/keys/development-kek.js';
import { createServices, type GatehouseServices } from '../../src/services.js';
import { createTestStores, testStoreProfile, type TestStores } from '../support/test-stores.js';
import { newKek } from './stored-key-support.js';

/**
 * Restarts against one database: PGlite on disk in the embedded pass (memory: would start empty),
 * a fresh PostgreSQL database in the real pass.
 */
describe('stored keys at startup: a wrong KEK or an altered row refuses to start, clearly', () => {
  let dir: string;
  let stores: TestStores;
  let env: Record<string, string>;

  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'gatehouse-keys-'));
    stores = await createTestStores();
    env = {
      GATEHOUSE_ENV: 'development',
      GATEHOUSE_KEY_SOURCE: 'store',
      GATEHOUSE_DATA_DIR: path.join(dir, 'data'),
      GATEHOUSE_DATABASE_URL: testStoreProfile === 'embedded' ? path.join(dir, 'db') : stores.databaseUrl,
      GATEHOUSE_REDIS_KEY_PREFIX: stores.redisKeyPrefix,
      ...(stores.redisUrl === undefined ? {} : { GATEHOUSE_REDIS_URL: stores.redisUrl }),
    };
  });
  after(async () => {
    await stores.cleanup();
    await rm(dir, { recursive: true, force: true });
  });

  const open = (extra: Record<string, string> = {}): Promise<GatehouseServices> => createServices(loadConfig({ ...env, ...extra }));

  test('development without GATEHOUSE_KEY_ENCRYPTION_KEY: a generated KEK beside the key file, mode 0600, reused on restart', async () => {
    const first = await open();
    const kid = first.keySet().signer.kid;
    assert.deepEqual(first.storedKeys?.kekSource, { kind: 'development', path: path.join(dir, 'data', DEVELOPMENT_KEK_FILE), created: true });
    await first.close();
    if (process.platform !== 'win32') assert.equal((await stat(path.join(dir, 'data', DEVELOPMENT_KEK_FILE))).mode & 0o777, 0o600);
    const second = await open();
    assert.equal(second.keySet().signer.kid, kid);
    assert.equal(second.storedKeys?.kekSource.kind, 'development');
    await second.close();
  });

  test('malicious: another GATEHOUSE_KEY_ENCRYPTION_KEY: startup refuses, naming the variable and the key', async () => {
    await assert.rejects(open({ GATEHOUSE_KEY_ENCRYPTION_KEY: newKek() }), (error: unknown) => {
      assert.ok(error instanceof ConfigError);
      assert.match(
        error.problems[0] ?? '',
        /^GATEHOUSE_KEY_ENCRYPTION_KEY: signing key \S+ was sealed under key-encryption key \S+, but GATEHOUSE_KEY_ENCRYPTION_KEY is \S+: wrong GATEHOUSE_KEY_ENCRYPTION_KEY$/,
      );
      return true;
    });
  });

  test('malicious: a tampered ciphertext in the store: startup refuses', async () => {
    const services = await open();
    const kid = services.keySet().signer.kid;
    const [row] = (
      (await services.database.db.execute(sql`SELECT private_jwk_sealed FROM signing_keys WHERE kid = ${kid}`)) as unknown as {
        rows: { private_jwk_sealed: string }[];
      }
    ).rows;
    const sealed = row!.private_jwk_sealed;
    const body = Buffer.from(sealed.split('.')[3]!, 'base64url');
    body[0] = body[0]! ^ 0x80;
    const altered = [...sealed.split('.').slice(0, 3), body.toString('base64url')].join('.');
    await services.database.db.execute(sql`UPDATE signing_keys SET private_jwk_sealed = ${altered} WHERE kid = ${kid}`);
    await services.close();
    await assert.rejects(open(), (error: unknown) => {
      assert.ok(error instanceof ConfigError);
      assert.match(error.problems.join('\n'), new RegExp(`signing key ${kid}: the sealed private key fails authentication`));
      return true;
    });
  });
});
