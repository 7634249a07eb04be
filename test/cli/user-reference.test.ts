import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { CommandError } from '../../src/cli/arguments.js';
import { resolveUser } from '../../src/cli/user-reference.js';
import { NotFoundError } from '../../src/errors/errors.js';
import type { UserRecord } from '../../src/users/user-store.js';
import { usernameKey } from '../../src/users/username.js';

const ADMIN_ID = '0b6f3c1e-2a4d-4e8f-9a1b-3c5d7e9f1a2b';
const MALLORY_ID = '9f8e7d6c-5b4a-4321-8fed-cba987654321';

const user = (id: string, username: string): UserRecord => ({
  id,
  kind: 'person',
  username,
  email: null,
  emailVerifiedAt: null,
  passwordHash: 'x',
  roles: [],
  disabledAt: null,
  lockedAt: null,
  tokenVersion: 0,
  createdAt: new Date(0),
});

/** Mallory registered the admin's id as her username. */
const USERS = [user(ADMIN_ID, 'root-admin'), user(MALLORY_ID, ADMIN_ID)];
const store = {
  findById: async (id: string) => USERS.find((u) => u.id === id),
  findByUsernameKey: async (key: string) => USERS.find((u) => usernameKey(u.username) === key),
};

describe('resolveUser', () => {
  test('by username (normalised as at login) or by id', async () => {
    assert.equal((await resolveUser(store, 'ROOT-ADMIN')).id, ADMIN_ID);
    assert.equal((await resolveUser(store, MALLORY_ID)).username, ADMIN_ID);
    assert.equal((await resolveUser(store, MALLORY_ID.toUpperCase())).id, MALLORY_ID);
  });

  test("malicious: a username that is another user's id is ambiguous and refused (exit 2) until --id or --username says which", async () => {
    await assert.rejects(
      resolveUser(store, ADMIN_ID),
      (error: unknown) => error instanceof CommandError && error.exitCode === 2 && /pass --id or --username/.test(error.message),
    );
    assert.equal((await resolveUser(store, ADMIN_ID, 'id')).username, 'root-admin');
    assert.equal((await resolveUser(store, ADMIN_ID, 'username')).id, MALLORY_ID);
  });

  test('nobody: NotFoundError (exit 3); --id with something that is not a UUID: usage', async () => {
    await assert.rejects(resolveUser(store, 'nobody'), NotFoundError);
    await assert.rejects(resolveUser(store, '11111111-2222-4333-8444-555555555555'), NotFoundError);
    await assert.rejects(resolveUser(store, 'root-admin', 'id'), (error: unknown) => error instanceof CommandError && error.exitCode === 2);
  });
});
