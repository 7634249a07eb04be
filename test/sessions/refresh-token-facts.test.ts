import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { decodeJwt } from 'jose';
import { sessionOfRefreshToken } from '../../src/sessions/refresh-families.js';
import { digestRefreshToken, generateRefreshToken } from '../../src/sessions/refresh-token.js';
import { createRefreshTokenFactsCache, type RefreshTokenFacts } from '../../src/sessions/refresh-token-facts.js';
import type { SessionStore } from '../../src/sessions/session-store.js';
import { observeQueries } from '../../src/stores/db/database.js';
import { bearer, startTestApp, TEST_PASSWORD, type TestApp } from '../support/test-app.js';

const facts = (id: string): RefreshTokenFacts => ({ id, userId: 'u', clientId: 'c', tenantId: null, scope: 'profile', resource: null });

/** A new user of `t`, signed in by JSON login. */
async function signInAs(t: TestApp, username: string): Promise<{ access_token: string; refresh_token: string }> {
  await t.register(username);
  const res = await t.inject({ method: 'POST', url: '/auth/login', payload: { username, password: TEST_PASSWORD } });
  assert.equal(res.statusCode, 200, res.body);
  return res.json<{ access_token: string; refresh_token: string }>();
}

describe('the refresh tokens an instance remembers it issued', () => {
  let t: TestApp;
  let users = 0;
  const signIn = () => signInAs(t, `facts-user-${++users}`);
  const refresh = (token: string) => t.inject({ method: 'POST', url: '/auth/refresh', payload: { refresh_token: token } });

  before(async () => {
    t = await startTestApp();
  });
  after(() => t.close());

  test('malicious: a token this instance just issued is refused once its session ended (liveness is decided by the rotation)', async () => {
    const { access_token, refresh_token } = await signIn();
    assert.equal(await t.services.sessions.revoke(String(decodeJwt(access_token).sid), 'logout', new Date()), true);
    const res = await refresh(refresh_token);
    assert.equal(res.statusCode, 400, res.body);
    assert.equal(res.json<{ error: string }>().error, 'invalid_grant');
  });

  test('malicious: a token issued by the last rotation is refused after log out everywhere', async () => {
    const first = await signIn();
    const rotated = await refresh(first.refresh_token);
    assert.equal(rotated.statusCode, 200, rotated.body);
    const { access_token, refresh_token } = rotated.json<{ access_token: string; refresh_token: string }>();
    assert.equal((await t.inject({ method: 'POST', url: '/auth/logout-all', headers: bearer(access_token) })).statusCode, 204);
    assert.equal((await refresh(refresh_token)).statusCode, 400);
  });

  test('malicious: a spent token is forgotten, so its repeat reaches the store and is reuse (the family dies)', async () => {
    const { refresh_token } = await signIn();
    const next = (await refresh(refresh_token)).json<{ refresh_token: string }>().refresh_token;
    assert.equal((await refresh(refresh_token)).statusCode, 400);
    assert.equal((await refresh(next)).statusCode, 400, 'the successor died with its family');
  });

  test('the refresh of a remembered token skips the read before the spend; an unremembered one reads the store', async () => {
    let reads = 0;
    const sessions = { findByRefreshDigest: async () => (reads++, undefined) } as unknown as SessionStore;
    const issuedTokens = createRefreshTokenFactsCache();
    const token = generateRefreshToken();
    issuedTokens.remember(digestRefreshToken(token), facts('s1'));
    assert.deepEqual(await sessionOfRefreshToken({ sessions, issuedTokens }, token), facts('s1'));
    assert.equal(reads, 0);
    assert.equal(await sessionOfRefreshToken({ sessions, issuedTokens }, token), undefined, 'read once, then from the store');
    assert.equal(reads, 1);
  });
});

describe('the refresh limit and the remembered tokens', () => {
  let t: TestApp;
  before(async () => {
    // A frozen clock: the user cache (1 s) cannot expire between the two refreshes measured.
    const frozen = Date.now();
    t = await startTestApp({ env: { GATEHOUSE_LIMIT_REFRESH_SESSION: '3/1m' }, overrides: { now: () => frozen } });
  });
  after(() => t.close());

  const refresh = (token: string) => t.inject({ method: 'POST', url: '/auth/refresh', payload: { refresh_token: token } });

  test('with the limit on, the refresh of a token this instance issued runs the rotation statement alone', async () => {
    const first = await refresh((await signInAs(t, 'limited-rotator')).refresh_token);
    assert.equal(first.statusCode, 200, first.body);
    let statements = 0;
    const detach = observeQueries(() => statements++);
    try {
      const second = await refresh(first.json<{ refresh_token: string }>().refresh_token);
      assert.equal(second.statusCode, 200, second.body);
    } finally {
      detach();
    }
    // Before: the limit read the token's session from the store, then the grant spent it.
    assert.equal(statements, 1);
  });

  test('malicious: the limit still counts every rotation of the session, remembered tokens and spent ones alike', async () => {
    let token = (await signInAs(t, 'looping-rotator')).refresh_token;
    const spent = token;
    for (let i = 0; i < 3; i++) {
      const res = await refresh(token);
      assert.equal(res.statusCode, 200, res.body);
      token = res.json<{ refresh_token: string }>().refresh_token;
    }
    assert.equal((await refresh(token)).statusCode, 429, 'a remembered token of a session at its limit');
    assert.equal((await refresh(spent)).statusCode, 429, 'a spent token (read from the store) counts against the same session');
  });
});

describe('createRefreshTokenFactsCache', () => {
  test('peek leaves the entry for take; neither returns an expired one', () => {
    let now = 0;
    const cache = createRefreshTokenFactsCache({ ttlMs: 1000, now: () => now });
    cache.remember('d', facts('s'));
    assert.equal(cache.peek('d')?.id, 's');
    assert.equal(cache.peek('d')?.id, 's');
    assert.equal(cache.take('d')?.id, 's');
    assert.equal(cache.peek('d'), undefined, 'taken');
    cache.remember('e', facts('t'));
    now = 1000;
    assert.equal(cache.peek('e'), undefined);
  });

  test('an entry older than ttlMs is not returned', () => {
    let now = 0;
    const cache = createRefreshTokenFactsCache({ ttlMs: 1000, now: () => now });
    cache.remember('d', facts('s'));
    now = 1000;
    assert.equal(cache.take('d'), undefined);
  });

  test('bounded: the oldest entry leaves when full', () => {
    const cache = createRefreshTokenFactsCache({ maxEntries: 2 });
    cache.remember('a', facts('a'));
    cache.remember('b', facts('b'));
    cache.remember('c', facts('c'));
    assert.equal(cache.take('a'), undefined);
    assert.equal(cache.take('b')?.id, 'b');
    assert.equal(cache.take('c')?.id, 'c');
  });

  test('only the immutable facts are kept, never the mutable state of the record handed in', () => {
    const cache = createRefreshTokenFactsCache();
    cache.remember('d', { ...facts('s'), revokedAt: null, idleExpiresAt: new Date() } as RefreshTokenFacts);
    assert.deepEqual(Object.keys(cache.take('d') ?? {}).sort(), ['clientId', 'id', 'resource', 'scope', 'tenantId', 'userId']);
  });
});
