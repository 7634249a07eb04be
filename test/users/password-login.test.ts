import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { beforeEach, describe, test } from 'node:test';
import { InvalidGrantError, UsernameTakenError } from '../../src/errors/errors.js';
import { PasswordHasher } from '../../src/passwords/password-hasher.js';
import type { PasswordHashing } from '../../src/users/password-hashing.js';
import { verifyPasswordLogin } from '../../src/users/password-login.js';
import type { NewUser, UserRecord, UserStore } from '../../src/users/user-store.js';
import { usernameKey } from '../../src/users/username.js';

const PASSWORD = 'correct horse battery staple';

/** A real argon2id hasher (cheap parameters) that counts what login asks of it. */
class CountingHasher implements PasswordHashing {
  readonly calls = { hash: 0, verify: 0, needsRehash: 0, dummyVerify: 0 };
  constructor(readonly inner: PasswordHasher) {}
  hash(password: string) {
    this.calls.hash++;
    return this.inner.hash(password);
  }
  verify(storedHash: string, password: string) {
    this.calls.verify++;
    return this.inner.verify(storedHash, password);
  }
  needsRehash(storedHash: string) {
    this.calls.needsRehash++;
    return this.inner.needsRehash(storedHash);
  }
  dummyVerify(password: string) {
    this.calls.dummyVerify++;
    return this.inner.dummyVerify(password);
  }
}

/** The smallest UserStore that honours the contract (unique key, compare-and-set hash replacement). */
class MemoryUserStore implements UserStore {
  readonly rows = new Map<string, UserRecord & { usernameKey: string }>();
  lookups = 0;
  failReplace = false;
  async create(user: NewUser) {
    if ([...this.rows.values()].some((r) => r.usernameKey === user.usernameKey)) throw new UsernameTakenError();
    const record = {
      ...user,
      kind: user.kind ?? ('person' as const),
      emailVerifiedAt: null,
      roles: [...(user.roles ?? [])],
      disabledAt: null,
      lockedAt: null,
      tokenVersion: 0,
      createdAt: new Date(),
    };
    this.rows.set(user.id, record);
    return record;
  }
  async findById(id: string) {
    return this.rows.get(id);
  }
  async findByUsernameKey(key: string) {
    this.lookups++;
    return [...this.rows.values()].find((r) => r.usernameKey === key);
  }
  async confirmEmail(id: string, email: string, expectedCurrent: string | undefined, now: Date) {
    const row = this.rows.get(id);
    if (row === undefined || (expectedCurrent !== undefined && row.email !== expectedCurrent)) return false;
    this.rows.set(id, { ...row, email, emailVerifiedAt: now });
    return true;
  }
  async findByVerifiedEmailKey(key: string) {
    return [...this.rows.values()].find((r) => r.emailVerifiedAt !== null && r.email?.toLowerCase() === key);
  }
  async replacePasswordHash(id: string, expected: string, next: string) {
    if (this.failReplace) throw new Error('database went away');
    const row = this.rows.get(id);
    if (row === undefined || row.passwordHash !== expected) return false;
    this.rows.set(id, { ...row, passwordHash: next });
    return true;
  }
  async delete(id: string) {
    return this.rows.delete(id);
  }
  async revokeAllTokens(id: string) {
    const row = this.rows.get(id);
    if (row === undefined) return undefined;
    this.rows.set(id, { ...row, tokenVersion: row.tokenVersion + 1 });
    return row.tokenVersion + 1;
  }
}

const cheap = { memoryCostKiB: 1024, timeCost: 1 };

async function rejectsWithReason(promise: Promise<unknown>, reason: string): Promise<InvalidGrantError> {
  let caught: unknown;
  await promise.catch((error: unknown) => {
    caught = error;
  });
  assert.ok(caught instanceof InvalidGrantError, `expected InvalidGrantError, got ${String(caught)}`);
  assert.equal(caught.code, 'ERR_OAUTH_INVALID_GRANT');
  assert.equal(caught.logReason, reason);
  return caught;
}

describe('verifyPasswordLogin', () => {
  let hasher: CountingHasher;
  let store: MemoryUserStore;
  let alice: UserRecord;

  beforeEach(async () => {
    const real = new PasswordHasher(cheap);
    store = new MemoryUserStore();
    alice = await store.create({
      id: randomUUID(),
      username: 'Alice',
      usernameKey: usernameKey('Alice'),
      email: null,
      passwordHash: await real.hash(PASSWORD),
    });
    hasher = new CountingHasher(real);
  });

  test('an unknown user costs one argon2 verification (dummyVerify), like a wrong password', async () => {
    await rejectsWithReason(verifyPasswordLogin({ users: store, hasher }, 'nobody', PASSWORD), 'unknown user');
    assert.deepEqual(hasher.calls, { hash: 0, verify: 0, needsRehash: 0, dummyVerify: 1 });
  });

  test('a wrong password costs one verification and no dummy', async () => {
    await rejectsWithReason(verifyPasswordLogin({ users: store, hasher }, 'alice', 'wrong horse battery staple'), 'wrong password');
    assert.deepEqual(hasher.calls, { hash: 0, verify: 1, needsRehash: 0, dummyVerify: 0 });
  });

  test('unknown user and wrong password throw the same message; only the log reason differs', async () => {
    const unknown = await rejectsWithReason(verifyPasswordLogin({ users: store, hasher }, 'nobody', PASSWORD), 'unknown user');
    const wrong = await rejectsWithReason(verifyPasswordLogin({ users: store, hasher }, 'alice', 'nope nope nope nope'), 'wrong password');
    assert.equal(unknown.message, wrong.message);
    assert.equal(unknown.error, wrong.error);
    assert.equal(unknown.status, wrong.status);
  });

  test('verification required: an unconfirmed address is refused after the password check, with the message of a wrong password', async () => {
    const unconfirmed = await rejectsWithReason(
      verifyPasswordLogin({ users: store, hasher, requireVerifiedEmail: true }, 'alice', PASSWORD),
      'email unverified',
    );
    const wrong = await rejectsWithReason(
      verifyPasswordLogin({ users: store, hasher, requireVerifiedEmail: true }, 'alice', 'nope nope nope nope'),
      'wrong password',
    );
    assert.equal(unconfirmed.message, wrong.message);
    assert.equal(hasher.calls.verify, 2, 'the password is verified first either way');
    await store.confirmEmail(alice.id, 'alice@example.com', undefined, new Date());
    assert.equal((await verifyPasswordLogin({ users: store, hasher, requireVerifiedEmail: true }, 'alice', PASSWORD)).id, alice.id);
    assert.equal((await verifyPasswordLogin({ users: store, hasher }, 'alice', PASSWORD)).id, alice.id);
  });

  test('a password over 1 KiB is refused after one dummy verification, without a lookup', async () => {
    await rejectsWithReason(verifyPasswordLogin({ users: store, hasher }, 'alice', 'x'.repeat(1025)), 'password too long');
    assert.deepEqual(hasher.calls, { hash: 0, verify: 0, needsRehash: 0, dummyVerify: 1 });
    assert.equal(store.lookups, 0);
  });

  test('an over-long username is an unknown user (one dummy verification), not a lookup', async () => {
    await rejectsWithReason(verifyPasswordLogin({ users: store, hasher }, 'a'.repeat(257), PASSWORD), 'unknown user');
    assert.equal(store.lookups, 0);
    assert.equal(hasher.calls.dummyVerify, 1);
  });

  test('a disabled account is refused only after the password was verified (same cost as success)', async () => {
    store.rows.set(alice.id, { ...store.rows.get(alice.id)!, disabledAt: new Date() });
    await rejectsWithReason(verifyPasswordLogin({ users: store, hasher }, 'alice', PASSWORD), 'account disabled');
    assert.equal(hasher.calls.verify, 1);
    assert.equal(hasher.calls.dummyVerify, 0);
  });

  test('a disabled account with a wrong password says "wrong password", not "disabled"', async () => {
    store.rows.set(alice.id, { ...store.rows.get(alice.id)!, disabledAt: new Date() });
    await rejectsWithReason(verifyPasswordLogin({ users: store, hasher }, 'alice', 'nope nope nope nope'), 'wrong password');
  });

  test('success: the username is matched case- and width-insensitively; no rehash for a current hash', async () => {
    for (const name of ['alice', 'ALICE', 'ａｌｉｃｅ']) {
      const user = await verifyPasswordLogin({ users: store, hasher }, name, PASSWORD);
      assert.equal(user.id, alice.id);
    }
    assert.equal(hasher.calls.hash, 0);
  });

  test('an outdated hash is replaced after a successful login, compare-and-set on the old hash', async () => {
    const current = new CountingHasher(new PasswordHasher({ ...cheap, timeCost: 2 }));
    const before = store.rows.get(alice.id)!.passwordHash;
    await verifyPasswordLogin({ users: store, hasher: current }, 'alice', PASSWORD);
    const after = store.rows.get(alice.id)!.passwordHash;
    assert.notEqual(after, before);
    assert.match(after ?? '', /,t=2,/);
    assert.equal(current.calls.hash, 1);
  });

  test('a failed rehash is reported but does not fail the login', async () => {
    const current = new CountingHasher(new PasswordHasher({ ...cheap, timeCost: 2 }));
    store.failReplace = true;
    const reported: unknown[] = [];
    const user = await verifyPasswordLogin({ users: store, hasher: current, onRehashFailed: (e) => reported.push(e) }, 'alice', PASSWORD);
    assert.equal(user.id, alice.id);
    assert.equal(reported.length, 1);
  });
});
