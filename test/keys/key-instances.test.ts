import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { parseKeyEncryptionKey } from '../../src/keys/key-encryption.js';
import { lifecycleTimings } from '../../src/keys/key-lifecycle.js';
import { createKeyManagement } from '../../src/keys/key-management.js';
import { createDrizzleSigningKeyStore } from '../../src/stores/db/drizzle-signing-key-store.js';
import type { TestApp } from '../support/test-app.js';
import { testStoreProfile } from '../support/test-stores.js';
import { jwks, keys, kidOf, me, newKek, OPERATOR, startStoreApp, testClock, type TestClock } from './stored-key-support.js';
import { KEY_PROPAGATION_MS } from '../../src/keys/key-lifecycle.js';

/**
 * Key changes between two instances of one deployment (one PostgreSQL, one Redis). Registered in
 * the real pass only: in the embedded pass each instance has its own PGlite, so nothing is shared.
 */
const PROPAGATION_LIMIT_MS = 1_000;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls until `check` holds; returns the elapsed ms. A deadline, not a speed assertion. */
async function pollUntil(label: string, check: () => Promise<boolean>, timeoutMs = 5 * PROPAGATION_LIMIT_MS): Promise<number> {
  const start = performance.now();
  for (;;) {
    if (await check()) return performance.now() - start;
    if (performance.now() - start > timeoutMs) assert.fail(`timed out after ${timeoutMs} ms waiting for: ${label}`);
    await sleep(10);
  }
}

describe('stored keys on two instances of one deployment', { skip: testStoreProfile !== 'real' && 'needs the real stores (one database, one Redis)' }, () => {
  let clock: TestClock;
  let a: TestApp;
  let b: TestApp;

  before(async () => {
    clock = testClock();
    const kek = newKek();
    a = await startStoreApp({ clock, kek });
    b = await startStoreApp({ clock, kek, shareWith: a });
    await a.register('alice');
  });
  after(async () => {
    await b?.close();
    await a?.close();
  });

  test('both instances sign and verify with the one active key', async () => {
    assert.equal(a.services.keySet().signer.kid, b.services.keySet().signer.kid);
    const token = (await a.login('alice')).access_token;
    assert.equal((await me(b, token)).statusCode, 200);
  });

  test('malicious: a key revoked on A: B refuses its tokens within a second (cached verification included)', async (ctx) => {
    const token = (await b.login('alice')).access_token;
    const oldKid = kidOf(token);
    assert.equal((await me(b, token)).statusCode, 200);
    const start = performance.now();
    const { replacement } = await keys(a).management.revoke(oldKid, { replace: true }, OPERATOR);
    assert.equal((await me(a, token)).statusCode, 401, 'A at once');
    const delay = await pollUntil('B refuses the revoked key', async () => (await me(b, token)).statusCode === 401);
    ctx.diagnostic(`B refused ${(performance.now() - start).toFixed(1)} ms after the revoke on A`);
    assert.ok(delay < PROPAGATION_LIMIT_MS, `B accepted the revoked key's token ${delay.toFixed(1)} ms later`);
    assert.ok(!(await jwks(b)).keys.some((k) => k.kid === oldKid));
    assert.equal(kidOf((await b.login('alice')).access_token), replacement);
  });

  test('a rotation scheduled on A: B publishes the new key within a second and switches when it is due', async () => {
    const signer = b.services.keySet().signer.kid;
    const next = await keys(a).management.rotate({ alg: 'ES256' }, OPERATOR);
    await pollUntil('B publishes the pending key', async () => (await jwks(b)).keys.some((k) => k.kid === next.kid));
    assert.equal(kidOf((await b.login('alice')).access_token), signer, 'pending: B does not sign with it');
    clock.advance(300_000 + KEY_PROPAGATION_MS);
    // Only B's scheduler runs: whichever instance makes the switch, both follow.
    await keys(b).management.advance();
    await pollUntil('A signs with the new key', async () => kidOf((await a.login('alice')).access_token) === next.kid);
    assert.equal(kidOf((await b.login('alice')).access_token), next.kid);
  });
});

describe('stored keys without a notification (a message lost): polling catches up within seconds', () => {
  test('a change made with no publish appears on a polling instance', async () => {
    const clock = testClock();
    const kek = newKek();
    const t = await startStoreApp({ clock, kek, pollMs: 100 });
    try {
      // What another instance would do if its publish were lost: the change is only in the table.
      const silent = createKeyManagement({
        store: createDrizzleSigningKeyStore(t.services.database.db),
        kek: parseKeyEncryptionKey(kek),
        timings: lifecycleTimings({ jwksMaxAgeSeconds: 300, accessTokenTtlSeconds: 900 }),
        now: clock.now,
        changed: async () => {},
      });
      const standby = await silent.create({}, OPERATOR);
      const ms = await pollUntil('the poll publishes the standby key', async () => (await jwks(t)).keys.some((k) => k.kid === standby.kid));
      assert.ok(ms < 5_000);
    } finally {
      await t.close();
    }
  });
});
