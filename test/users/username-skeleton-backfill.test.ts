import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { eq } from 'drizzle-orm';
import { PasswordHasher } from '../../src/passwords/password-hasher.js';
import { openDatabase } from '../../src/stores/db/database.js';
import { users } from '../../src/stores/db/schema.js';
import { usernameSkeletons } from '../../src/users/username-skeleton.js';
import { startTestApp, TEST_PASSWORD, type TestApp } from '../support/test-app.js';
import { createTestStores, type TestStores } from '../support/test-stores.js';

/**
 * Accounts made before the skeleton columns (migration 0007) have none. An older "admin" and a
 * later look-alike "admın" both exist already: both must keep working, and nothing new that looks
 * like them may register.
 */
describe('username skeletons of accounts from before (issue 19 item 9)', () => {
  let stores: TestStores;
  let dir: string;
  let url: string;
  const ids = { admin: randomUUID(), lookalike: randomUUID(), carol: randomUUID() };
  const apps: TestApp[] = [];
  const start = async () => {
    const t = await startTestApp({ env: { GATEHOUSE_DATABASE_URL: url } });
    apps.push(t);
    return t;
  };

  before(async () => {
    stores = await createTestStores();
    dir = await mkdtemp(join(tmpdir(), 'gh-skeleton-'));
    // The real pass uses its PostgreSQL database; the embedded one a PGlite directory (a memory one would not outlive the close).
    url = stores.databaseUrl === 'memory:' ? join(dir, 'db') : stores.databaseUrl;
    const database = await openDatabase(url.startsWith('postgres') ? { kind: 'postgres', url } : { kind: 'pglite-dir', path: url });
    const passwordHash = await new PasswordHasher({ memoryCostKiB: 1024, timeCost: 1 }).hash(TEST_PASSWORD);
    const old = (id: string, username: string, createdAt: string) => ({ id, username, usernameKey: username, passwordHash, createdAt: new Date(createdAt) });
    await database.db
      .insert(users)
      .values([
        old(ids.admin, 'admin', '2024-01-01T00:00:00Z'),
        old(ids.lookalike, 'adm\u0131n', '2025-01-01T00:00:00Z'),
        old(ids.carol, 'carol', '2025-06-01T00:00:00Z'),
      ]);
    await database.close();
  });
  after(async () => {
    for (const t of apps) await t.close();
    await stores.cleanup();
    await rm(dir, { recursive: true, force: true });
  });

  const skeletonsOf = async (t: TestApp, id: string) => {
    const [row] = await t.services.database.db.select().from(users).where(eq(users.id, id));
    return { lower: row?.usernameSkeleton ?? null, upper: row?.usernameUpperSkeleton ?? null };
  };

  test('the start fills them, the older account takes a shared skeleton, and the operator is told', async () => {
    const t = await start();
    assert.deepEqual(await skeletonsOf(t, ids.admin), usernameSkeletons('admin'));
    assert.deepEqual(await skeletonsOf(t, ids.carol), usernameSkeletons('carol'));
    assert.deepEqual(await skeletonsOf(t, ids.lookalike), { lower: null, upper: null });
    const warned = t.logs.records().find((r) => r.event === 'users.lookalike_accounts');
    assert.equal(warned?.collisions, 2);
    assert.equal(t.logs.records().find((r) => r.event === 'users.skeletons_filled')?.filled, 4);
  });

  test('both old look-alikes keep logging in, each into its own account', async () => {
    const t = apps[0]!;
    for (const [name, id] of [
      ['admin', ids.admin],
      ['adm\u0131n', ids.lookalike],
    ] as const) {
      const { access_token } = await t.login(name);
      const me = await t.inject({ method: 'GET', url: '/me', headers: { authorization: `Bearer ${access_token}` } });
      assert.equal(me.json().id, id, name);
    }
  });

  test('a new look-alike of an old account is refused as taken', async () => {
    const t = apps[0]!;
    for (const name of ['\ua4ee\ua4d3\ua4df\ua4f2\ua4e0', 'adrnin', 'car0l']) {
      const res = await t.inject({ method: 'POST', url: '/auth/register', payload: { username: name, password: TEST_PASSWORD } });
      assert.equal(res.statusCode, 409, `${name}: ${res.body}`);
      assert.equal(res.json().code, 'ERR_USERNAME_TAKEN');
    }
  });

  test('a restart changes nothing: the step reads only rows still missing a skeleton', async () => {
    await apps.shift()!.close();
    const t = await start();
    assert.deepEqual(await skeletonsOf(t, ids.admin), usernameSkeletons('admin'));
    assert.equal(
      t.logs.records().find((r) => r.event === 'users.skeletons_filled'),
      undefined,
    );
    assert.equal(t.logs.records().find((r) => r.event === 'users.lookalike_accounts')?.collisions, 2);
  });
});
