import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { StoreUnavailableError } from '../../src/errors/errors.js';
import { parseKeyEncryptionKey } from '../../src/keys/key-encryption.js';
import { startLiveKeySet, type LiveKeySet } from '../../src/keys/live-key-set.js';
import type { SigningKeyStore } from '../../src/keys/signing-key-store.js';
import { createDrizzleSigningKeyStore } from '../../src/stores/db/drizzle-signing-key-store.js';
import type { TestApp } from '../support/test-app.js';
import { newKek, startStoreApp, testClock } from './stored-key-support.js';

describe('a live key set that cannot read the store fails closed', () => {
  let t: TestApp;
  let live: LiveKeySet;
  let failing = false;
  let monotonic = 0;
  let staleCalls = 0;

  before(async () => {
    const kek = newKek();
    t = await startStoreApp({ clock: testClock(), kek });
    const store = createDrizzleSigningKeyStore(t.services.database.db);
    const flaky: Pick<SigningKeyStore, 'list'> = { list: (...args) => (failing ? Promise.reject(new Error('database unreachable')) : store.list(...args)) };
    live = await startLiveKeySet({
      store: flaky,
      kek: parseKeyEncryptionKey(kek),
      feed: t.services.ephemeral,
      channel: 'live-key-set-test',
      advance: async () => undefined,
      pollIntervalMs: 3_600_000,
      staleAfterMs: 30_000,
      elapsed: () => monotonic,
      onStale: () => staleCalls++,
    });
  });
  after(async () => {
    await live?.close();
    await t?.close();
  });

  test('malicious: after the staleness bound without a successful read, it neither signs nor verifies (503), and says so once', async () => {
    const signer = live.current().signer.kid;
    failing = true;
    await assert.rejects(live.reload());
    monotonic += 29_000;
    assert.equal(live.current().signer.kid, signer, 'within the bound the last confirmed set still serves');
    monotonic += 2_000;
    assert.throws(() => live.current(), StoreUnavailableError);
    assert.throws(() => live.current(), StoreUnavailableError);
    assert.equal(staleCalls, 1, 'cached verifications are dropped once');
  });

  test('a successful read confirms the set again', async () => {
    failing = false;
    await live.reload();
    assert.ok(live.current().signer.kid);
  });
});
