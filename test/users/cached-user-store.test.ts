import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createCachedUserStore } from '../../src/users/cached-user-store.js';
import type { NewUser, UserRecord, UserStore } from '../../src/users/user-store.js';

const ID = '11111111-1111-4111-8111-111111111111';

/** A real in-memory UserStore that counts reads, to see what reaches it. */
function countingStore(): UserStore & { reads: number; rows: Map<string, UserRecord> } {
  const rows = new Map<string, UserRecord>();
  const store = {
    reads: 0,
    rows,
    async create(u: NewUser) {
      const record: UserRecord = {
        id: u.id,
        kind: 'person',
        username: u.username,
        email: u.email,
        emailVerifiedAt: null,
        passwordHash: u.passwordHash,
        roles: [],
        disabledAt: null,
        lockedAt: null,
        tokenVersion: 0,
        createdAt: new Date(0),
      };
      rows.set(u.id, record);
      return record;
    },
    async findById(id: string) {
      store.reads += 1;
      return rows.get(id);
    },
    async findByUsernameKey() {
      return undefined;
    },
    async findByVerifiedEmailKey() {
      return undefined;
    },
    async confirmEmail(id: string, email: string, _expected: string | undefined, now: Date) {
      const row = rows.get(id);
      if (row === undefined) return false;
      rows.set(id, { ...row, email, emailVerifiedAt: now });
      return true;
    },
    async replacePasswordHash(id: string, expected: string, next: string) {
      const row = rows.get(id);
      if (row === undefined || row.passwordHash !== expected) return false;
      rows.set(id, { ...row, passwordHash: next });
      return true;
    },
    async delete(id: string) {
      return rows.delete(id);
    },
    async revokeAllTokens(id: string) {
      const row = rows.get(id);
      if (row === undefined) return undefined;
      rows.set(id, { ...row, tokenVersion: row.tokenVersion + 1 });
      return row.tokenVersion + 1;
    },
  };
  return store;
}

const newUser = (id: string, passwordHash = 'h'): NewUser => ({ id, username: id, usernameKey: id, email: null, passwordHash });

describe('cached user store: changes are never hidden', () => {
  test('a delete through the cache is seen at once', async () => {
    const cached = createCachedUserStore(countingStore());
    await cached.create(newUser(ID));
    assert.ok(await cached.findById(ID));
    await cached.delete(ID);
    assert.equal(await cached.findById(ID), undefined);
  });

  test('a change made elsewhere is seen once the ttl has passed', async () => {
    let now = 1_000;
    const inner = countingStore();
    const cached = createCachedUserStore(inner, { ttlMs: 1000, now: () => now });
    await inner.create(newUser(ID));
    assert.ok(await cached.findById(ID));
    inner.rows.delete(ID); // another instance deleted the user
    now += 999;
    assert.ok(await cached.findById(ID), 'within the ttl the cached record may still be served');
    now += 1;
    assert.equal(await cached.findById(ID), undefined);
  });

  test('unknown ids are not cached: a user created later is found', async () => {
    const inner = countingStore();
    const cached = createCachedUserStore(inner);
    assert.equal(await cached.findById(ID), undefined);
    await inner.create(newUser(ID));
    assert.ok(await cached.findById(ID));
  });

  test('a password change through the cache drops the cached record', async () => {
    const cached = createCachedUserStore(countingStore());
    await cached.create(newUser(ID, 'h1'));
    await cached.findById(ID);
    assert.equal(await cached.replacePasswordHash(ID, 'h1', 'h2'), true);
    assert.equal((await cached.findById(ID))?.passwordHash, 'h2');
  });
});

describe('cached user store: it caches, within bounds', () => {
  test('repeated lookups within the ttl read the store once', async () => {
    const inner = countingStore();
    const cached = createCachedUserStore(inner, { now: () => 0 });
    await cached.create(newUser(ID));
    for (let i = 0; i < 5; i += 1) await cached.findById(ID);
    assert.equal(inner.reads, 1);
  });

  test('the oldest entry is evicted when full', async () => {
    const inner = countingStore();
    const cached = createCachedUserStore(inner, { maxEntries: 2, now: () => 0 });
    const ids = ['21111111-1111-4111-8111-111111111111', '31111111-1111-4111-8111-111111111111', '41111111-1111-4111-8111-111111111111'];
    for (const id of ids) await inner.create(newUser(id));
    for (const id of ids) await cached.findById(id);
    inner.reads = 0;
    await cached.findById(ids[0]!);
    assert.equal(inner.reads, 1);
  });
});
