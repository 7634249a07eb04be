import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Redis } from 'ioredis';
import pg from 'pg';
import { createTestStores, testStoreProfile } from '../support/test-stores.js';

describe('createTestStores', () => {
  if (testStoreProfile === 'embedded') {
    it('embedded: in-process database and no Redis', async () => {
      const stores = await createTestStores();
      assert.equal(stores.databaseUrl, 'memory:');
      assert.equal(stores.redisUrl, undefined);
      assert.match(stores.redisKeyPrefix, /^gh-test:[0-9a-f]+:$/);
      await stores.cleanup();
    });
    return;
  }

  it('real: a fresh database and key prefix per call, both gone after cleanup', async () => {
    const [a, b] = await Promise.all([createTestStores(), createTestStores()]);
    assert.notEqual(a.databaseUrl, b.databaseUrl);
    assert.notEqual(a.redisKeyPrefix, b.redisKeyPrefix);
    await b.cleanup();

    const { databaseUrl, redisUrl, redisKeyPrefix } = a;
    assert.ok(redisUrl !== undefined);
    const databaseName = new URL(databaseUrl).pathname.slice(1);
    assert.match(databaseName, /^gh_t_[0-9a-f]+$/);

    const db = new pg.Client({ connectionString: databaseUrl });
    // DROP … WITH (FORCE) terminates this connection; that is expected, not a crash.
    db.on('error', () => {});
    await db.connect();
    assert.equal((await db.query<{ name: string }>('select current_database() as name')).rows[0]?.name, databaseName);
    // Left open on purpose: cleanup must drop the database even with a client connected.
    const redis = new Redis(redisUrl);
    await redis.set(`${redisKeyPrefix}left-behind`, '1');

    await a.cleanup();
    await a.cleanup();
    await db.end().catch(() => {});

    assert.equal(await redis.exists(`${redisKeyPrefix}left-behind`), 0);
    redis.disconnect();
    const admin = new pg.Client({ connectionString: process.env.GATEHOUSE_TEST_DATABASE_URL });
    await admin.connect();
    const found = await admin.query('select 1 from pg_database where datname = $1', [databaseName]);
    await admin.end();
    assert.equal(found.rowCount, 0);
  });
});
