import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { decodeRevocationMessage } from '../../packages/verify/src/internal.js';
import { createVerifier, InvalidTokenError, type RevocationFeed, type RevocationOptions } from '../../packages/verify/src/index.js';
import { encodeEntries, type RevocationEntry } from '../../src/revocation/revocation-entry.js';
import { testStoreProfile } from '../support/test-stores.js';
import { AUDIENCE, claims, eventually, ISSUER, sign, startListeningGatehouse, testKey, type ListeningGatehouse, type TestKey } from './support.js';

/** A feed a test publishes on by hand. */
function manualFeed(): RevocationFeed & { publish(message: string): void } {
  const listeners = new Set<(m: string) => void>();
  return {
    publish: (message) => listeners.forEach((l) => l(message)),
    async subscribe(onMessage) {
      listeners.add(onMessage);
      return { close: async () => void listeners.delete(onMessage) };
    },
  };
}

describe('revocation feed: wire format', () => {
  test('what the server encodes, the SDK decodes (the two codecs stay in step)', () => {
    const entries: RevocationEntry[] = [
      { kind: 'token', id: 'jti-1', until: 1 },
      { kind: 'session', id: 'b1c2', until: 2 },
      { kind: 'user', id: 'u-1', version: 3, until: 4 },
    ];
    assert.deepEqual(decodeRevocationMessage(encodeEntries(entries)), entries);
  });

  test('malformed messages yield nothing and do not throw', () => {
    for (const message of [
      '',
      'nope',
      '{}',
      '[1,2]',
      JSON.stringify([{ kind: 'user', id: 'x', version: 0, until: 1 }]),
      JSON.stringify([{ kind: 'token', id: '', until: 1 }]),
    ]) {
      assert.deepEqual(decodeRevocationMessage(message), [], message);
    }
  });
});

describe('revocation feed: injected', () => {
  let ed: TestKey;
  before(async () => {
    ed = await testKey();
  });

  test('per token, per session and per user (token version) entries refuse matching tokens, cached or not', async () => {
    const verifier = createVerifier({ issuer: ISSUER, audience: AUDIENCE, jwks: { keys: [ed.publicJwk] } });
    const feed = manualFeed();
    const subscription = await verifier.subscribeRevocations({ feed, catchUp: false });
    const until = Date.now() + 600_000;
    const byJti = claims();
    const bySid = claims();
    const byUser = claims({ sub: '0b6f8c7e-1d2a-4b3c-9e8f-7a6b5c4d3e2f', tver: 2 });
    const newer = claims({ sub: '0b6f8c7e-1d2a-4b3c-9e8f-7a6b5c4d3e2f', tver: 3 });
    const tokens = await Promise.all([byJti, bySid, byUser, newer].map((c) => sign(ed, c)));
    for (const t of tokens) await verifier.verify(t); // all cached now
    feed.publish(encodeEntries([{ kind: 'token', id: byJti.jti as string, until }]));
    feed.publish(encodeEntries([{ kind: 'session', id: bySid.sid as string, until }]));
    feed.publish(encodeEntries([{ kind: 'user', id: byUser.sub as string, version: 3, until }]));
    const reasons: string[] = [];
    for (const t of tokens.slice(0, 3)) {
      await assert.rejects(verifier.verify(t), (e: unknown) => e instanceof InvalidTokenError && reasons.push(e.logReason) > 0);
    }
    assert.deepEqual(reasons, ['access token revoked', 'session revoked', 'tokens of the user revoked (token version)']);
    assert.ok(await verifier.verify(tokens[3]!), 'a token minted after the version bump still passes');
    assert.equal(subscription.entries, 3);
    await subscription.close();
    assert.ok(await verifier.verify(tokens[0]!), 'unsubscribed: the feed is no longer consulted');
  });

  test('an entry past its until no longer refuses', async () => {
    const verifier = createVerifier({ issuer: ISSUER, audience: AUDIENCE, jwks: { keys: [ed.publicJwk] } });
    const feed = manualFeed();
    await verifier.subscribeRevocations({ feed, catchUp: false });
    const c = claims();
    feed.publish(encodeEntries([{ kind: 'session', id: c.sid as string, until: Date.now() - 1 }]));
    assert.ok(await verifier.verify(await sign(ed, c)));
    await verifier.close();
  });
});

describe(`revocation feed: the real server's (${testStoreProfile} stores)`, () => {
  let server: ListeningGatehouse;
  before(async () => {
    server = await startListeningGatehouse();
  });
  after(() => server.close());

  /** Redis in the real pass (the SDK's own subscriber); the server's in-process feed in the embedded one. */
  function feedOptions(): RevocationOptions {
    const { stores, services } = server.gatehouse;
    if (stores.redisUrl !== undefined) return { redisUrl: stores.redisUrl, prefix: stores.redisKeyPrefix, catchUp: false };
    return { feed: { subscribe: (onMessage) => services.ephemeral.subscribe('revocations', { onMessage, onResubscribed: () => {} }) }, catchUp: false };
  }

  test('a resource server refuses a logged-out token within a second, and the other session keeps working', async () => {
    const verifier = createVerifier({ issuer: server.issuer, audience: server.audience, jwksUri: server.jwksUri });
    await verifier.subscribeRevocations(feedOptions());
    try {
      const a = await server.login('rev_alice');
      const b = await server.login('rev_alice');
      await verifier.verify(a.access_token);
      await verifier.verify(b.access_token);
      const out = await fetch(`${server.baseUrl}/auth/logout`, { method: 'POST', headers: { authorization: `Bearer ${a.access_token}` } });
      assert.equal(out.status, 204);
      const elapsed = await eventually(
        () =>
          verifier.verify(a.access_token).then(
            () => false,
            (e: unknown) => e instanceof InvalidTokenError,
          ),
        1_000,
      );
      assert.ok(elapsed < 1_000);
      assert.ok(await verifier.verify(b.access_token), 'the other session is untouched');
    } finally {
      await verifier.close();
    }
  });

  test('log out everywhere (token version) and RFC 7009 revocation of one access token reach the SDK', async () => {
    const verifier = createVerifier({ issuer: server.issuer, audience: server.audience, jwksUri: server.jwksUri });
    await verifier.subscribeRevocations(feedOptions());
    try {
      const one = await server.login('rev_bob');
      const revoke = await fetch(`${server.baseUrl}/auth/revoke`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ token: one.access_token }),
      });
      assert.equal(revoke.status, 200);
      await eventually(
        () =>
          verifier.verify(one.access_token).then(
            () => false,
            (e: unknown) => e instanceof InvalidTokenError && /access token revoked/.test(e.logReason),
          ),
        1_000,
      );

      const x = await server.login('rev_bob');
      const y = await server.login('rev_bob');
      await verifier.verify(y.access_token);
      const all = await fetch(`${server.baseUrl}/auth/logout-all`, { method: 'POST', headers: { authorization: `Bearer ${x.access_token}` } });
      assert.equal(all.status, 204);
      await eventually(
        () =>
          verifier.verify(y.access_token).then(
            () => false,
            (e: unknown) => e instanceof InvalidTokenError,
          ),
        1_000,
      );
    } finally {
      await verifier.close();
    }
  });
});
