import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { createVerifier, InvalidTokenError, type RevocationOptions } from '../../packages/verify/src/index.js';
import { kidOf, newKek, OPERATOR } from '../keys/stored-key-support.js';
import { testStoreProfile } from '../support/test-stores.js';
import {
  AUDIENCE,
  claims,
  cuttableFeed,
  eventually,
  ISSUER,
  sign,
  startJwksServer,
  startListeningGatehouse,
  testKey,
  type JwksServer,
  type ListeningGatehouse,
} from './support.js';

const refused = (promise: Promise<unknown>) =>
  promise.then(
    () => false,
    (e: unknown) => e instanceof InvalidTokenError,
  );

describe(`a revoked signing key stops verifying in resource servers (${testStoreProfile} stores)`, () => {
  let server: ListeningGatehouse | undefined;
  let jwks: JwksServer | undefined;
  after(async () => {
    await server?.close();
    await jwks?.close();
  });

  test('malicious: gatehouse keys revoke --replace reaches a subscribed SDK at once, though its JWKS copy is fresh for five more minutes', async () => {
    server = await startListeningGatehouse({
      env: { GATEHOUSE_KEY_SOURCE: 'store', GATEHOUSE_KEY_ENCRYPTION_KEY: newKek() },
      overrides: { signingKeys: undefined },
    });
    const { stores, services } = server.gatehouse;
    const feed: RevocationOptions =
      stores.redisUrl !== undefined
        ? { redisUrl: stores.redisUrl, prefix: stores.redisKeyPrefix, catchUp: false }
        : { feed: { subscribe: (onMessage) => services.ephemeral.subscribe('revocations', { onMessage, onResubscribed: () => {} }) }, catchUp: false };
    const verifier = createVerifier({ issuer: server.issuer, audience: server.audience, jwksUri: server.jwksUri });
    await verifier.subscribeRevocations(feed);
    try {
      const stolen = (await server.login('key_rev_alice')).access_token;
      await verifier.verify(stolen); // cached now, and its key is in the SDK's fresh JWKS copy
      const { replacement } = await services.storedKeys!.management.revoke(kidOf(stolen), { replace: true }, OPERATOR);
      assert.ok(replacement !== undefined);
      const elapsed = await eventually(() => refused(verifier.verify(stolen)), 2_000);
      assert.ok(elapsed < 2_000);
      // Tokens of the replacement key verify: the SDK fetched the new JWKS.
      const fresh = (await server.login('key_rev_alice')).access_token;
      assert.equal(kidOf(fresh), replacement);
      assert.ok(await verifier.verify(fresh));
    } finally {
      await verifier.close();
    }
  });

  test("malicious: a key revoked while the SDK's feed link was down is refused after the catch-up, though its JWKS copy is still fresh", async () => {
    const secret = 'key-catch-up-secret-Lp3Mn7Bv1Cx9Zq5Wr2Ty';
    const own = await startListeningGatehouse({
      env: { GATEHOUSE_KEY_SOURCE: 'store', GATEHOUSE_KEY_ENCRYPTION_KEY: newKek(), GATEHOUSE_REVOCATION_FEED_SECRETS: secret },
      overrides: { signingKeys: undefined },
    });
    const feed = cuttableFeed(own);
    const verifier = createVerifier({ issuer: own.issuer, audience: own.audience, jwksUri: own.jwksUri });
    try {
      await verifier.subscribeRevocations({ feed, catchUp: { url: `${own.baseUrl}/revocations`, secret, intervalMs: 600_000, maxStalenessMs: 1_200_000 } });
      const stolen = (await own.login('key_gap_bob')).access_token;
      await verifier.verify(stolen);
      feed.cut();
      await own.gatehouse.services.storedKeys!.management.revoke(kidOf(stolen), { replace: true }, OPERATOR);
      assert.ok(await verifier.verify(stolen), 'the announcement was lost with the link');
      feed.restore();
      await eventually(() => refused(verifier.verify(stolen)), 10_000);
    } finally {
      await verifier.close();
      await own.close();
    }
  });

  test('a key gone from a refetched JWKS takes its cached verifications with it', async () => {
    const old = await testKey('EdDSA', 'old-key');
    const next = await testKey('EdDSA', 'next-key');
    jwks = await startJwksServer([old.publicJwk, next.publicJwk]);
    const verifier = createVerifier({ issuer: ISSUER, audience: AUDIENCE, jwksUri: jwks.url, jwksCache: { cooldownSeconds: 3600 } });
    const token = await sign(old, claims());
    assert.ok(await verifier.verify(token));
    jwks.keys = [next.publicJwk];
    await (verifier.keys as unknown as { refresh(): Promise<void> }).refresh();
    assert.equal(await refused(verifier.verify(token)), true, 'the cached verification went with the key');
    assert.ok(await verifier.verify(await sign(next, claims())));
  });
});
