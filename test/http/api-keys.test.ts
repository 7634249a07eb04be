import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import type { LightMyRequestResponse } from 'fastify';
import { API_KEY_PREFIX, formatApiKey, mintApiKey, parseApiKey } from '../../src/apikeys/api-key-token.js';
import { apiKeyPeppers, type ApiKeyPeppers } from '../../src/apikeys/api-key-peppers.js';
import { API_KEY_CHANNEL, createApiKeys, type ApiKeys, type ApiKeysDeps } from '../../src/apikeys/api-keys.js';
import { NO_AUDIT_CONTEXT } from '../../src/audit/audit-event.js';
import { InvalidTokenError } from '../../src/errors/errors.js';
import { createDrizzleApiKeyStore } from '../../src/stores/db/drizzle-api-key-store.js';
import { bearer, startTestApp, TEST_API_KEY_PEPPER, type TestApp } from '../support/test-app.js';

interface CreatedKey {
  readonly id: string;
  readonly key: string;
  readonly scopes: string[];
}

describe('API keys', () => {
  let t: TestApp;
  let clock = Date.now();
  let alice: { id: string };
  let aliceToken: string;
  let bobToken: string;

  before(async () => {
    t = await startTestApp({
      env: { GATEHOUSE_LIMIT_API_KEY: '20/1m' },
      overrides: { now: () => clock },
      extraRoutes: (app) => {
        // A host route an API key may call, needing a scope only admins hold.
        app.get('/test/audit-scope', { config: { auth: { schemes: ['bearer', 'api_key'], scopes: ['admin:audit'] } } }, async (request) => ({
          via: request.principal?.via,
          scopes: [...(request.principal?.scopes ?? [])].sort(),
        }));
      },
    });
    alice = await t.register('alice');
    await t.register('bob');
    await t.services.userDirectory.changeRole(alice.id, { grant: 'admin' });
    aliceToken = (await t.login('alice')).access_token;
    bobToken = (await t.login('bob')).access_token;
  });
  after(async () => t.close());

  const create = async (token: string, body: object): Promise<LightMyRequestResponse> =>
    t.inject({ method: 'POST', url: '/me/api-keys', headers: bearer(token), payload: body });
  const newKey = async (body: object = { name: 'ci', scopes: ['profile'] }, token = aliceToken): Promise<CreatedKey> => {
    const res = await create(token, body);
    assert.equal(res.statusCode, 201, res.body);
    return res.json<CreatedKey>();
  };
  /** Another ApiKeys over this app's stores (an instance of its own, or one with an instrumented part). */
  const apiKeysOver = (parts: Partial<ApiKeysDeps> = {}): ApiKeys =>
    createApiKeys({
      store: createDrizzleApiKeyStore(t.services.database.db),
      peppers: apiKeyPeppers([TEST_API_KEY_PEPPER]),
      users: t.services.users,
      tenants: t.services.tenants,
      scopes: t.services.scopes,
      revocations: t.services.revocations,
      audit: t.services.audit,
      accessTokenTtlMs: 900_000,
      now: () => clock,
      ...parts,
    });
  const meWith = (headers: Record<string, string | string[]>) => t.inject({ method: 'GET', url: '/me', headers });
  const meStatus = async (key: string) => (await meWith({ 'x-api-key': key })).statusCode;

  test('malicious: a key with a forged checksum is refused before any lookup (401)', async () => {
    const { key } = await newKey();
    const forged = key.slice(0, -1) + (key.endsWith('0') ? '1' : '0');
    assert.equal(await meStatus(forged), 401);
    assert.equal(await meStatus(key), 200);
  });

  test("malicious: another owner's key cannot be revoked or rotated, and the answer is the same 404 as for none", async () => {
    const { id, key } = await newKey();
    for (const [method, url, payload] of [
      ['DELETE', `/me/api-keys/${id}`, undefined],
      ['POST', `/me/api-keys/${id}/rotate`, { overlap_seconds: 0 }],
      ['DELETE', `/me/api-keys/${mintApiKey().keyId}`, undefined],
    ] as const) {
      const res = await t.inject({ method, url, headers: bearer(bobToken), ...(payload === undefined ? {} : { payload }) });
      assert.equal(res.statusCode, 404, `${method} ${url}: ${res.body}`);
    }
    assert.equal(await meStatus(key), 200, 'the key still works');
    const bobs = await t.inject({ method: 'GET', url: '/me/api-keys', headers: bearer(bobToken) });
    assert.equal(bobs.json<unknown[]>().length, 0);
  });

  test('malicious: a revoked key is refused at once', async () => {
    const { id, key } = await newKey();
    assert.equal(await meStatus(key), 200);
    assert.equal((await t.inject({ method: 'DELETE', url: `/me/api-keys/${id}`, headers: bearer(aliceToken) })).statusCode, 204);
    assert.equal(await meStatus(key), 401);
  });

  test('malicious: an expired key is refused, and the attempt is audited', async () => {
    const { id, key } = await newKey({ name: 'short', scopes: ['profile'], expires_in: 60 });
    assert.equal(await meStatus(key), 200);
    // The clock only moves forward: caches keyed on it must never see time run back.
    clock += 61_000;
    assert.equal(await meStatus(key), 401);
    const trail = await t.services.audit.list({ subjectId: alice.id, event: 'api_key.expired_use', limit: 100 });
    assert.ok(trail.some((r) => r.event === 'api_key.expired_use' && r.reason === `api_key:${id}`));
  });

  test('malicious: a rotated-out key works during its overlap, then dies; the new one works', async () => {
    const { id, key } = await newKey();
    const rotated = await t.inject({ method: 'POST', url: `/me/api-keys/${id}/rotate`, headers: bearer(aliceToken), payload: { overlap_seconds: 30 } });
    assert.equal(rotated.statusCode, 201, rotated.body);
    const next = rotated.json<CreatedKey>();
    assert.notEqual(next.key, key);
    assert.equal(await meStatus(key), 200, 'during the overlap');
    assert.equal(await meStatus(next.key), 200);
    clock += 31_000;
    assert.equal(await meStatus(key), 401, 'after the overlap');
    assert.equal(await meStatus(next.key), 200);
    const tooLong = await t.inject({
      method: 'POST',
      url: `/me/api-keys/${next.id}/rotate`,
      headers: bearer(aliceToken),
      payload: { overlap_seconds: 604_801 },
    });
    assert.equal(tooLong.statusCode, 400);
  });

  test('malicious: two concurrent rotations of one key yield exactly one successor; a rotated key cannot be rotated again', async () => {
    const { id } = await newKey();
    const rotate = () => t.inject({ method: 'POST', url: `/me/api-keys/${id}/rotate`, headers: bearer(aliceToken), payload: { overlap_seconds: 60 } });
    const statuses = (await Promise.all([rotate(), rotate()])).map((r) => r.statusCode).sort((x, y) => x - y);
    assert.deepEqual(statuses, [201, 404]);
    assert.equal((await rotate()).statusCode, 404);
  });

  test('malicious: rotation with overlap 0 ends the old key at once', async () => {
    const { id, key } = await newKey();
    assert.equal(await meStatus(key), 200);
    const rotated = await t.inject({ method: 'POST', url: `/me/api-keys/${id}/rotate`, headers: bearer(aliceToken), payload: { overlap_seconds: 0 } });
    assert.equal(rotated.statusCode, 201);
    assert.equal(await meStatus(key), 401);
  });

  test('malicious: a key rotated on another instance is refused right after its overlap, though this instance had its row cached', async () => {
    // Instance B: its own key cache over the same stores, listening on the change channel as services.ts wires it.
    const b = apiKeysOver();
    const heard: string[] = [];
    const changes = await t.services.ephemeral.subscribe(API_KEY_CHANNEL, {
      onMessage: (keyId) => {
        b.forget(keyId);
        heard.push(keyId);
      },
      onResubscribed: () => b.forgetAll(),
    });
    try {
      const { id, key } = await newKey();
      await b.authenticate(key, NO_AUDIT_CONTEXT); // B has the row, with no end, cached now
      const rotated = await t.inject({ method: 'POST', url: `/me/api-keys/${id}/rotate`, headers: bearer(aliceToken), payload: { overlap_seconds: 5 } });
      assert.equal(rotated.statusCode, 201, rotated.body);
      // Redis delivers after publish returns: B must have heard of it before the overlap ends.
      for (let waited = 0; !heard.includes(id); waited += 10) {
        if (waited > 2_000) assert.fail('instance B never heard of the rotation');
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      await b.authenticate(key, NO_AUDIT_CONTEXT); // still inside the overlap
      clock += 5_001; // well inside B's cache window (API_KEY_CACHE_MS)
      await assert.rejects(b.authenticate(key, NO_AUDIT_CONTEXT), InvalidTokenError);
      assert.equal(await meStatus(key), 401);
    } finally {
      await changes.close();
    }
  });

  test('malicious: scope escalation at creation: a scope the owner does not hold is refused (403)', async () => {
    const res = await create(bobToken, { name: 'escalate', scopes: ['profile', 'admin:audit'] });
    assert.equal(res.statusCode, 403, res.body);
    const unknown = await create(bobToken, { name: 'escalate', scopes: ['no-such-scope'] });
    assert.equal(unknown.statusCode, 403, unknown.body);
  });

  test('malicious: an owner who lost the role loses the scope on the key at its next use', async () => {
    const bearerBefore = aliceToken;
    const { key } = await newKey({ name: 'audit', scopes: ['profile', 'admin:audit'] });
    const ok = await t.inject({ method: 'GET', url: '/test/audit-scope', headers: { 'x-api-key': key } });
    assert.equal(ok.statusCode, 200, ok.body);
    assert.deepEqual(ok.json(), { via: 'api_key', scopes: ['admin:audit', 'profile'] });
    await t.services.userDirectory.changeRole(alice.id, { revoke: 'admin' });
    // A write straight to the database (not through the API) is seen once the user cache (1 s) expires.
    clock += 1_500;
    try {
      const refused = await t.inject({ method: 'GET', url: '/test/audit-scope', headers: { 'x-api-key': key } });
      assert.equal(refused.statusCode, 403, refused.body);
      assert.equal(await meStatus(key), 200, 'profile, still held, still works');
    } finally {
      await t.services.userDirectory.changeRole(alice.id, { grant: 'admin' });
      aliceToken = bearerBefore;
    }
  });

  test('malicious: a tenant key needs membership at creation and at every use', async () => {
    const tenant = await t.services.tenants.create({ id: randomUUID(), slug: 'keyco', name: 'KeyCo' });
    assert.equal((await create(aliceToken, { name: 't', scopes: ['profile'], tenant: tenant.id })).statusCode, 400, 'not a member');
    await t.services.tenants.addMember(tenant.id, alice.id);
    const { key } = await newKey({ name: 't', scopes: ['profile'], tenant: tenant.id });
    assert.equal(await meStatus(key), 200);
    await t.services.tenants.removeMember(tenant.id, alice.id);
    assert.equal(await meStatus(key), 401, 'the owner left the tenant');
  });

  test('malicious: a disabled owner disables the key', async () => {
    const carol = await t.register('carol');
    const { key } = await newKey({ name: 'c', scopes: ['profile'] }, (await t.login('carol')).access_token);
    assert.equal(await meStatus(key), 200);
    await t.services.userDirectory.setStatus(carol.id, { disabledAt: new Date(clock) });
    clock += 1_500;
    assert.equal(await meStatus(key), 401);
  });

  test('malicious: the digest stored in the database, presented as a key, is refused', async () => {
    const { id } = await newKey();
    const row = await createDrizzleApiKeyStore(t.services.database.db).findById(id);
    assert.ok(row !== undefined);
    const digest = row.digest;
    assert.equal(await meStatus(digest), 401);
    assert.equal(await meStatus(`${API_KEY_PREFIX}${id}${digest}`), 401);
  });

  test('malicious: X-API-Key and Authorization together, or two X-API-Key headers, are 400', async () => {
    const { key } = await newKey();
    assert.equal((await meWith({ 'x-api-key': key, authorization: `Bearer ${aliceToken}` })).statusCode, 400);
    assert.equal((await meWith({ 'x-api-key': key, authorization: `Bearer ${key}` })).statusCode, 400);
    assert.equal((await meWith({ 'x-api-key': [key, key] })).statusCode, 400);
    assert.equal((await meWith({ authorization: `Bearer ${key}` })).statusCode, 200, 'Bearer ghk_ alone is an API key');
  });

  test('malicious: a ghk_ bearer is never verified as a JWT', async () => {
    const { key } = await newKey();
    const verify = t.services.verifier.verify.bind(t.services.verifier);
    let calls = 0;
    const verifier = t.services.verifier as { verify: typeof verify };
    verifier.verify = async (token) => {
      calls += 1;
      return verify(token);
    };
    try {
      assert.equal((await meWith({ authorization: `Bearer ${key}` })).statusCode, 200);
      assert.equal((await meWith({ authorization: `Bearer ${API_KEY_PREFIX}garbage` })).statusCode, 401);
      assert.equal(calls, 0);
    } finally {
      verifier.verify = verify;
    }
  });

  test('unknown key id and wrong secret do the same digest work (no shortcut that timing could reveal)', async () => {
    const { key } = await newKey();
    const store = createDrizzleApiKeyStore(t.services.database.db);
    const real = apiKeyPeppers([TEST_API_KEY_PEPPER]);
    const compared: { digest: string }[] = [];
    const peppers: ApiKeyPeppers = { digest: real.digest, matches: (secret, stored) => (compared.push(stored), real.matches(secret, stored)) };
    const keys = apiKeysOver({ store, peppers });
    const context = { ip: null, userAgent: null, requestId: null };
    const unknownId = mintApiKey();
    await assert.rejects(keys.authenticate(unknownId.token, context), /invalid token/);
    assert.equal(compared.length, 1, 'an unknown id is compared with a dummy digest');
    const known = parseApiKey(key);
    assert.ok(known !== undefined);
    await assert.rejects(keys.authenticate(formatApiKey(known.keyId, mintApiKey().secret), context), /invalid token/);
    assert.equal(compared.length, 2, 'a wrong secret of a known id: one comparison too');
    assert.equal(compared[1]?.digest, (await store.findById(known.keyId))?.digest);
    // A key proven once is not digested again within the cache window; a wrong secret always is.
    await keys.authenticate(key, context);
    await keys.authenticate(key, context);
    assert.equal(compared.length, 3, 'the right key: one HMAC for both uses');
    await assert.rejects(keys.authenticate(formatApiKey(known.keyId, mintApiKey().secret), context), /invalid token/);
    assert.equal(compared.length, 4, 'a wrong secret of a proven key id is still digested');
    clock += 61_000;
    await keys.authenticate(key, context);
    assert.equal(compared.length, 5, 'a minute later the key is digested again');
  });

  test('last use is written at most once a minute per key (never a write per request); a new address is written and audited', async () => {
    const { key } = await newKey();
    const store = createDrizzleApiKeyStore(t.services.database.db);
    const writes: (string | null)[] = [];
    const keys = apiKeysOver({ store: { ...store, recordUse: async (id, at, ip, audit) => (writes.push(ip), store.recordUse(id, at, ip, audit)) } });
    const from = (ip: string) => ({ ip, userAgent: null, requestId: null });
    for (let i = 0; i < 10; i++) await keys.authenticate(key, from('192.0.2.1'));
    assert.deepEqual(writes, ['192.0.2.1']);
    await keys.authenticate(key, from('198.51.100.7'));
    assert.deepEqual(writes, ['192.0.2.1', '198.51.100.7'], 'a new address is written at once');
    clock += 61_000;
    await keys.authenticate(key, from('198.51.100.7'));
    assert.equal(writes.length, 3, 'a minute later, the next use is written');
    const trail = await t.services.audit.list({ subjectId: alice.id, event: 'api_key.new_address', limit: 10 });
    assert.ok(trail.some((r) => r.ip === '198.51.100.7'));
    const listed = await t.inject({ method: 'GET', url: '/me/api-keys', headers: bearer(aliceToken) });
    assert.ok(listed.json<{ last_used_at: string | null }[]>().some((k) => k.last_used_at !== null));
  });

  test('listing shows no secret and no digest; the key is shown once', async () => {
    const { id, key } = await newKey({ name: 'listed', scopes: ['profile'] });
    const list = await t.inject({ method: 'GET', url: '/me/api-keys', headers: bearer(aliceToken) });
    assert.equal(list.statusCode, 200);
    assert.ok(list.json<{ id: string }[]>().some((k) => k.id === id));
    assert.ok(!list.body.includes(key.slice(API_KEY_PREFIX.length + 17, -6)));
    assert.doesNotMatch(list.body, /digest|pepper/);
  });

  test('an API key cannot manage API keys (those routes take an access token)', async () => {
    const { key } = await newKey();
    assert.equal((await create(key, { name: 'more', scopes: ['profile'] })).statusCode, 401);
    assert.equal((await t.inject({ method: 'GET', url: '/me/api-keys', headers: { 'x-api-key': key } })).statusCode, 401);
  });

  test('the key never appears in a log line', async () => {
    const { key } = await newKey();
    await meStatus(key);
    await meWith({ authorization: `Bearer ${key}` });
    await meStatus(key.slice(0, -1) + 'x');
    const secret = key.slice(API_KEY_PREFIX.length + 17);
    for (const line of t.logs.lines) assert.ok(!line.includes(secret), line);
  });

  test('rate limit per key: past GATEHOUSE_LIMIT_API_KEY the answer is 429 with Retry-After, never 401', async () => {
    const { key } = await newKey();
    for (let i = 0; i < 20; i++) assert.equal(await meStatus(key), 200);
    const refused = await meWith({ 'x-api-key': key });
    assert.equal(refused.statusCode, 429, refused.body);
    assert.ok(Number(refused.headers['retry-after']) >= 1);
    const other = await newKey();
    assert.equal(await meStatus(other.key), 200, 'another key has its own budget');
  });
});
