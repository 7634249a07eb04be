import type { DatabaseTarget } from '../../src/config/config.js';
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import pg from 'pg';

/**
 * Store settings for one test, per pass of `scripts/run-tests.mjs`:
 * - `embedded` (default): in-process PGlite (`memory:`) and the memory ephemeral store.
 * - `real`: a fresh PostgreSQL database and a fresh Redis key prefix per call, so tests can run
 *   concurrently and leave nothing behind once `cleanup()` ran.
 *
 * @example
 * const stores = await createTestStores();
 * after(() => stores.cleanup());
 */
export interface TestStores {
  databaseUrl: string;
  redisUrl: string | undefined;
  redisKeyPrefix: string;
  cleanup(): Promise<void>;
}

export type TestStoreProfile = 'embedded' | 'real';

function readProfile(raw: string | undefined): TestStoreProfile {
  if (raw === undefined || raw === '' || raw === 'embedded') return 'embedded';
  if (raw === 'real') return 'real';
  // No silent fallback: a typo must not quietly turn a real-store run into an embedded one.
  throw new Error(`GATEHOUSE_TEST_STORES must be "embedded" or "real" (got ${JSON.stringify(raw)})`);
}

export const testStoreProfile: TestStoreProfile = readProfile(process.env.GATEHOUSE_TEST_STORES);

const CONNECT_TIMEOUT_MS = 3_000;

export async function createTestStores(): Promise<TestStores> {
  const id = randomBytes(6).toString('hex');
  const redisKeyPrefix = `gh-test:${id}:`;
  if (testStoreProfile === 'embedded') {
    return { databaseUrl: 'memory:', redisUrl: undefined, redisKeyPrefix, cleanup: async () => {} };
  }

  const adminUrl = process.env.GATEHOUSE_TEST_DATABASE_URL;
  const redisUrl = process.env.GATEHOUSE_TEST_REDIS_URL;
  if (adminUrl === undefined || adminUrl === '' || redisUrl === undefined || redisUrl === '') {
    throw new Error('GATEHOUSE_TEST_STORES=real needs GATEHOUSE_TEST_DATABASE_URL and GATEHOUSE_TEST_REDIS_URL');
  }
  // Hex only, so the name needs no quoting rules beyond the double quotes.
  const databaseName = `gh_t_${id}`;
  await withAdminClient(adminUrl, (client) => client.query(`CREATE DATABASE "${databaseName}"`));
  const databaseUrl = new URL(adminUrl);
  databaseUrl.pathname = `/${databaseName}`;

  let cleaned = false;
  return {
    databaseUrl: databaseUrl.toString(),
    redisUrl,
    redisKeyPrefix,
    async cleanup() {
      if (cleaned) return;
      cleaned = true;
      // FORCE (PostgreSQL 13+): a pool the test forgot to end must not keep the database alive.
      await withAdminClient(adminUrl, (client) => client.query(`DROP DATABASE IF EXISTS "${databaseName}" WITH (FORCE)`));
      await deleteRedisKeysWithPrefix(redisUrl, redisKeyPrefix);
    },
  };
}

/** Deletes every key starting with `prefix` (SCAN + DEL; never KEYS, which blocks Redis). */
export async function deleteRedisKeysWithPrefix(redisUrl: string, prefix: string): Promise<number> {
  const client = new Redis(redisUrl, { lazyConnect: true, connectTimeout: CONNECT_TIMEOUT_MS, maxRetriesPerRequest: 0, retryStrategy: () => null });
  try {
    await client.connect();
    const pattern = `${prefix.replace(/[*?[\]\\]/g, '\\$&')}*`;
    let cursor = '0';
    let deleted = 0;
    do {
      const [next, keys] = await client.scan(cursor, 'MATCH', pattern, 'COUNT', 500);
      cursor = next;
      if (keys.length > 0) deleted += await client.del(...keys);
    } while (cursor !== '0');
    return deleted;
  } finally {
    client.disconnect();
  }
}

async function withAdminClient(url: string, work: (client: pg.Client) => Promise<unknown>): Promise<void> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: CONNECT_TIMEOUT_MS });
  await client.connect();
  try {
    await work(client);
  } finally {
    await client.end();
  }
}

/**
 * The embedded pass's template (a migrated PGlite dump made once by scripts/run-tests.mjs): an
 * in-memory database configured as `memory:` starts from it instead of running initdb.
 */
export function withTestTemplate<C extends { readonly database: DatabaseTarget }>(config: C): C {
  const template = process.env.GATEHOUSE_TEST_PGLITE_TEMPLATE;
  if (template === undefined || template === '' || config.database.kind !== 'pglite-memory') return config;
  return { ...config, database: { kind: 'pglite-memory', template } };
}
