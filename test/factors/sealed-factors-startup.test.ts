import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { eq } from 'drizzle-orm';
import { NO_AUDIT_CONTEXT } from '../../src/audit/audit-event.js';
import { loadConfig } from '../../src/config/config.js';
import { ConfigError } from '../../src/errors/errors.js';
import { confirmTotp, enrolTotp } from '../../src/factors/factors.js';
import { createServices, type GatehouseServices } from '../../src/services.js';
import { factors } from '../../src/stores/db/schema.js';
import { createTestStores, testStoreProfile, type TestStores } from '../support/test-stores.js';
import { authenticatorOf } from '../support/totp-authenticator.js';
import { newKek } from '../keys/stored-key-support.js';

/**
 * Restarts against one database (PGlite on disk in the embedded pass, a fresh PostgreSQL database
 * in the real pass): a server that could not open its users' TOTP secrets would lock them out at
 * the second step, so it does not start.
 */
describe('sealed TOTP secrets at startup', () => {
  let dir: string;
  let stores: TestStores;
  let env: Record<string, string>;
  let factorId: string;

  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'gatehouse-factors-'));
    stores = await createTestStores();
    env = {
      GATEHOUSE_ENV: 'development',
      GATEHOUSE_DATA_DIR: path.join(dir, 'data'),
      GATEHOUSE_DATABASE_URL: testStoreProfile === 'embedded' ? path.join(dir, 'db') : stores.databaseUrl,
      GATEHOUSE_REDIS_KEY_PREFIX: stores.redisKeyPrefix,
      ...(stores.redisUrl === undefined ? {} : { GATEHOUSE_REDIS_URL: stores.redisUrl }),
    };
    // A user with a confirmed factor, sealed under the generated development KEK.
    const services = await open();
    try {
      const user = await services.users.create({
        id: randomUUID(),
        username: 'totp-restart',
        usernameKey: 'totp-restart',
        email: null,
        passwordHash: 'not-a-password-hash',
      });
      const enrolment = await enrolTotp(services.factors, user, undefined, NO_AUDIT_CONTEXT);
      factorId = enrolment.id;
      const code = authenticatorOf(enrolment.otpauthUri).codeAt(Date.now());
      await confirmTotp(services.factors, user.id, enrolment.id, code, NO_AUDIT_CONTEXT);
    } finally {
      await services.close();
    }
  });
  after(async () => {
    await stores.cleanup();
    await rm(dir, { recursive: true, force: true });
  });

  const open = (extra: Record<string, string> = {}): Promise<GatehouseServices> => createServices(loadConfig({ ...env, ...extra }));

  test('the same KEK: the server starts', async () => {
    const services = await open();
    await services.close();
  });

  test('malicious: another GATEHOUSE_KEY_ENCRYPTION_KEY: startup refuses, naming the variable, never the key', async () => {
    const other = newKek();
    await assert.rejects(open({ GATEHOUSE_KEY_ENCRYPTION_KEY: other }), (error: unknown) => {
      assert.ok(error instanceof ConfigError);
      assert.match(error.problems.join('\n'), /^GATEHOUSE_KEY_ENCRYPTION_KEY: TOTP factor \S+ was sealed under another key-encryption key/);
      assert.ok(!error.message.includes(other));
      return true;
    });
  });

  test('malicious: an altered sealed secret: startup refuses', async () => {
    const services = await open();
    try {
      const [row] = await services.database.db.select().from(factors).where(eq(factors.id, factorId));
      const sealed = row!.sealedSecret;
      // The second-to-last character changes (the last may carry only padding bits): compared with
      // itself, so a seal whose second-to-last character is already 'A' is altered too.
      const flipped = `${sealed.slice(0, -2)}${sealed.at(-2) === 'A' ? 'B' : 'A'}${sealed.slice(-1)}`;
      assert.notEqual(flipped, sealed);
      await services.database.db.update(factors).set({ sealedSecret: flipped }).where(eq(factors.id, factorId));
    } finally {
      await services.close();
    }
    await assert.rejects(open(), (error: unknown) => error instanceof ConfigError && /altered or moved/.test(error.problems.join('\n')));
  });
});
