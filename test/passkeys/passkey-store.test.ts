import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import type { NewPasskey, PasskeyStore } from '../../src/passkeys/passkey-store.js';
import { createDrizzlePasskeyStore } from '../../src/stores/db/drizzle-passkey-store.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

const T0 = new Date('2030-06-01T00:00:00Z');

/** The PasskeyStore contract on this pass's database (PGlite embedded, PostgreSQL in the real pass). */
describe('PasskeyStore contract (drizzle)', () => {
  let t: TestApp;
  let store: PasskeyStore;
  let alice: string;
  let bob: string;
  before(async () => {
    t = await startTestApp();
    store = createDrizzlePasskeyStore(t.services.database.db);
    alice = (await t.register('alice')).id;
    bob = (await t.register('bob')).id;
  });
  after(() => t.close());

  const passkey = (userId: string, overrides: Partial<NewPasskey> = {}): NewPasskey => ({
    id: randomUUID(),
    credentialId: randomUUID(),
    userId,
    publicKey: 'cHVibGlj',
    signCount: 0,
    transports: ['internal'],
    aaguid: '00000000-0000-0000-0000-000000000000',
    deviceType: 'multiDevice',
    backedUp: true,
    label: 'laptop',
    createdAt: T0,
    ...overrides,
  });

  test("a credential id is registered once, whoever's account asks", async () => {
    const first = passkey(alice);
    assert.equal(await store.insert(first), true);
    assert.equal(await store.insert(passkey(bob, { credentialId: first.credentialId })), false, "another user's copy of the id");
    assert.equal(await store.insert(passkey(alice, { credentialId: first.credentialId })), false);
    assert.equal((await store.findByCredentialId(first.credentialId))?.userId, alice);
    assert.deepEqual(
      (await store.listOfUser(bob)).map((p) => p.credentialId),
      [],
    );
  });

  test("remove takes only the owner's passkey", async () => {
    const mine = passkey(alice);
    await store.insert(mine);
    assert.equal(await store.remove(mine.id, bob), false, 'not bob’s');
    assert.ok(await store.findByCredentialId(mine.credentialId));
    assert.equal(await store.remove('not-a-uuid', alice), false);
    assert.equal(await store.remove(mine.id, alice), true);
    assert.equal(await store.findByCredentialId(mine.credentialId), undefined);
    assert.equal(await store.remove(mine.id, alice), false, 'gone already');
  });

  test('recordUse is a compare-and-set on the counter: a stale read loses', async () => {
    const key = passkey(bob, { signCount: 5 });
    await store.insert(key);
    const at = new Date(T0.getTime() + 1000);
    assert.equal(await store.recordUse(key.id, 5, { signCount: 6, backedUp: false, at }), true);
    assert.equal(await store.recordUse(key.id, 5, { signCount: 7, backedUp: false, at }), false, 'read before the first use');
    const stored = await store.findByCredentialId(key.credentialId);
    assert.equal(stored?.signCount, 6);
    assert.equal(stored?.backedUp, false);
    assert.deepEqual(stored?.lastUsedAt, at);
    assert.equal(await store.countOfUser(bob), 1);
  });

  test('deleting the user deletes the passkeys', async () => {
    const carol = (await t.register('carol')).id;
    const key = passkey(carol);
    await store.insert(key);
    assert.equal(await t.services.userDirectory.delete(carol), true);
    assert.equal(await store.findByCredentialId(key.credentialId), undefined);
  });
});
