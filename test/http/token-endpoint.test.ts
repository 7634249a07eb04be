import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { hash as bcryptHash } from '@node-rs/bcrypt';
import { eq } from 'drizzle-orm';
import type { LightMyRequestResponse } from 'fastify';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { PasswordHasher } from '../../src/passwords/password-hasher.js';
import { users } from '../../src/stores/db/schema.js';
import { usernameKey } from '../../src/users/username.js';
import { headersWithout } from '../support/headers.js';
import { bearer, startTestApp, TEST_ISSUER, TEST_PASSWORD, type TestApp } from '../support/test-app.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const FORM = { 'content-type': 'application/x-www-form-urlencoded' };
const basic = (id: string, secret: string) => ({ authorization: `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}` });

function postToken(t: TestApp, params: Record<string, string> | string, headers: Record<string, string> = {}): Promise<LightMyRequestResponse> {
  const payload = typeof params === 'string' ? params : new URLSearchParams(params).toString();
  return t.inject({ method: 'POST', url: '/auth/token', headers: { ...FORM, ...headers }, payload });
}

/** RFC 6749 §5.1/§5.2: never cached, whatever the outcome. */
function assertNoStore(res: LightMyRequestResponse): void {
  assert.equal(res.headers['cache-control'], 'no-store');
  assert.equal(res.headers.pragma, 'no-cache');
}

/** RFC 6749 §5.2: plain JSON {error, error_description}, not problem+json. */
function assertOAuthError(res: LightMyRequestResponse, status: number, error: string): { error: string; error_description: string } {
  assert.equal(res.statusCode, status, res.body);
  assert.match(String(res.headers['content-type']), /^application\/json\b/);
  assertNoStore(res);
  const body = res.json();
  assert.deepEqual(Object.keys(body).sort(), ['error', 'error_description']);
  assert.equal(body.error, error);
  assert.equal(typeof body.error_description, 'string');
  return body;
}

function assertTokenResponse(res: LightMyRequestResponse): {
  access_token: string;
  token_type: string;
  expires_in: number;
  scope: string;
  refresh_token: string;
} {
  assert.equal(res.statusCode, 200, res.body);
  assert.match(String(res.headers['content-type']), /^application\/json\b/);
  assertNoStore(res);
  const body = res.json();
  assert.deepEqual(Object.keys(body).sort(), ['access_token', 'expires_in', 'refresh_token', 'scope', 'token_type']);
  assert.equal(body.token_type, 'Bearer');
  assert.match(body.refresh_token, /^ghr_[A-Za-z0-9_-]{43}$/);
  return body;
}

describe('POST /auth/token (RFC 6749 §4.3 password grant)', () => {
  let t: TestApp;
  let alice: { id: string };
  const login = (extra: Record<string, string> = {}, headers: Record<string, string> = {}) =>
    postToken(t, { grant_type: 'password', username: 'alice', password: TEST_PASSWORD, ...extra }, headers);

  before(async () => {
    t = await startTestApp({ overrides: { clients: [{ id: 'partner-app', firstParty: false, grantTypes: ['password'] }] } });
    const res = await t.inject({ method: 'POST', url: '/auth/register', payload: { username: 'alice', email: 'alice@example.com', password: TEST_PASSWORD } });
    assert.equal(res.statusCode, 201);
    alice = res.json();
  });
  after(() => t.close());

  describe('user enumeration', () => {
    test('unknown user and wrong password: same status, body and headers (apart from date and request id)', async () => {
      const unknown = await postToken(t, { grant_type: 'password', username: 'nobody-here', password: TEST_PASSWORD });
      const wrong = await postToken(t, { grant_type: 'password', username: 'alice', password: `${TEST_PASSWORD}!` });
      const body = assertOAuthError(unknown, 400, 'invalid_grant');
      assertOAuthError(wrong, 400, 'invalid_grant');
      assert.equal(unknown.body, wrong.body);
      assert.deepEqual(headersWithout(unknown, 'date', 'x-request-id'), headersWithout(wrong, 'date', 'x-request-id'));
      assert.ok(!/user|password|exist/i.test(body.error_description), body.error_description);
    });

    test('a disabled account answers exactly like a wrong password', async () => {
      await t.register('disabled-dan');
      await t.services.database.db.update(users).set({ disabledAt: new Date() }).where(eq(users.usernameKey, 'disabled-dan'));
      const disabled = await postToken(t, { grant_type: 'password', username: 'disabled-dan', password: TEST_PASSWORD });
      const wrong = await postToken(t, { grant_type: 'password', username: 'alice', password: 'not the password at all' });
      assertOAuthError(disabled, 400, 'invalid_grant');
      assert.equal(disabled.body, wrong.body);
    });

    test('a password over 1 KiB is invalid_grant, even for a real user', async () => {
      assertOAuthError(await login({ password: 'p'.repeat(1025) }), 400, 'invalid_grant');
    });
  });

  describe('client identification (public clients, RFC 9700)', () => {
    test('unknown client_id: 401 invalid_client with a Basic challenge', async () => {
      const res = await login({ client_id: 'evil-app' });
      assertOAuthError(res, 401, 'invalid_client');
      assert.equal(res.headers['www-authenticate'], 'Basic realm="gatehouse"');
    });

    test('a client_secret in the body: 401 invalid_client (cannot be checked, so refused)', async () => {
      assertOAuthError(await login({ client_id: 'gatehouse-cli', client_secret: 's3cret' }), 401, 'invalid_client');
    });

    test('a non-empty secret in the Basic header: 401 invalid_client', async () => {
      assertOAuthError(await login({}, basic('gatehouse-cli', 's3cret')), 401, 'invalid_client');
    });

    test('Basic and body naming different clients: invalid_request', async () => {
      assertOAuthError(await login({ client_id: 'partner-app' }, basic('gatehouse-cli', '')), 400, 'invalid_request');
    });

    test('two Authorization headers: invalid_request', async () => {
      const two = [basic('gatehouse-cli', '').authorization, basic('partner-app', '').authorization];
      const res = await login({}, { authorization: two as unknown as string });
      assertOAuthError(res, 400, 'invalid_request');
    });

    test('a registered third-party client may not use the password grant: unauthorized_client', async () => {
      assertOAuthError(await login({ client_id: 'partner-app' }), 400, 'unauthorized_client');
      assertOAuthError(await login({}, basic('partner-app', '')), 400, 'unauthorized_client');
    });

    test('no client_id: treated as gatehouse-cli', async () => {
      const body = assertTokenResponse(await login());
      assert.equal(decodeJwt(body.access_token).client_id, 'gatehouse-cli');
    });

    test('Basic "gatehouse-cli:" with an empty secret (as Swagger UI sends) works', async () => {
      const body = assertTokenResponse(await login({}, basic('gatehouse-cli', '')));
      assert.equal(decodeJwt(body.access_token).client_id, 'gatehouse-cli');
    });
  });

  describe('request shape', () => {
    for (const missing of ['grant_type', 'username', 'password']) {
      test(`missing ${missing}: invalid_request`, async () => {
        const params: Record<string, string> = { grant_type: 'password', username: 'alice', password: TEST_PASSWORD };
        delete params[missing];
        assertOAuthError(await postToken(t, params), 400, 'invalid_request');
        assertOAuthError(await postToken(t, { ...params, [missing]: '' }), 400, 'invalid_request');
      });
    }

    test('grant_type=implicit or authorization_code: unsupported_grant_type', async () => {
      assertOAuthError(await login({ grant_type: 'authorization_code' }), 400, 'unsupported_grant_type');
      assertOAuthError(await login({ grant_type: 'implicit' }), 400, 'unsupported_grant_type');
    });

    test('a repeated parameter: invalid_request (RFC 6749 §3.2)', async () => {
      const valid = new URLSearchParams({ grant_type: 'password', username: 'alice', password: TEST_PASSWORD }).toString();
      assertOAuthError(await postToken(t, `${valid}&grant_type=password`), 400, 'invalid_request');
      assertOAuthError(await postToken(t, `${valid}&username=alice`), 400, 'invalid_request');
      assertOAuthError(await postToken(t, `${valid}&scope=profile&scope=profile`), 400, 'invalid_request');
    });

    test('a JSON body: 415 invalid_request', async () => {
      const res = await t.inject({ method: 'POST', url: '/auth/token', payload: { grant_type: 'password', username: 'alice', password: TEST_PASSWORD } });
      assertOAuthError(res, 415, 'invalid_request');
    });

    test('unknown or malformed scope: invalid_scope', async () => {
      assertOAuthError(await login({ scope: 'admin' }), 400, 'invalid_scope');
      assertOAuthError(await login({ scope: 'profile admin' }), 400, 'invalid_scope');
      assertOAuthError(await login({ scope: 'pro"file' }), 400, 'invalid_scope');
    });

    test('scope=profile: 200 with scope "profile"', async () => {
      const body = assertTokenResponse(await login({ scope: 'profile' }));
      assert.equal(body.scope, 'profile');
      assert.equal(decodeJwt(body.access_token).scope, 'profile');
    });
  });

  describe('the access token (RFC 9068)', () => {
    test('claims: iss, sub, aud, exp - iat = 900, jti, client_id, scope, sid, amr, acr, auth_time; header typ at+jwt and kid', async () => {
      const body = assertTokenResponse(await login());
      assert.equal(body.expires_in, 900);
      const claims = decodeJwt(body.access_token);
      assert.deepEqual(Object.keys(claims).sort(), [
        'acr',
        'amr',
        'aud',
        'auth_time',
        'client_id',
        'exp',
        'iat',
        'iss',
        'jti',
        'roles',
        'scope',
        'sid',
        'sub',
        'tver',
      ]);
      assert.deepEqual(claims.amr, ['pwd'], 'RFC 8176: a password');
      assert.equal(claims.acr, 'urn:gatehouse:aal1');
      assert.equal(claims.auth_time, claims.iat, 'a login authenticates when it issues');
      assert.equal(claims.tver, 0, 'a new user is at token version 0');
      assert.equal(claims.iss, TEST_ISSUER);
      assert.equal(claims.sub, alice.id);
      assert.equal(claims.aud, TEST_ISSUER);
      assert.equal((claims.exp ?? 0) - (claims.iat ?? 0), 900);
      assert.match(String(claims.jti), UUID);
      assert.match(String(claims.sid), UUID);
      assert.equal(claims.client_id, 'gatehouse-cli');
      assert.equal(claims.scope, 'profile');
      const header = decodeProtectedHeader(body.access_token);
      assert.equal(header.typ, 'at+jwt');
      assert.equal(header.kid, t.signingKeys[0]?.kid);
    });

    test('no password, hash, email or username in the token', async () => {
      const { access_token } = assertTokenResponse(await login());
      const [h, p] = access_token.split('.') as [string, string];
      const decoded = `${Buffer.from(h, 'base64url').toString()}${Buffer.from(p, 'base64url').toString()}`;
      for (const secret of [TEST_PASSWORD, 'alice@example.com', '$argon2', 'password', 'hash', 'email', 'alice']) {
        assert.ok(!decoded.includes(secret), `token contains ${secret}`);
      }
    });

    test('each token has its own jti and sid', async () => {
      const a = decodeJwt(assertTokenResponse(await login()).access_token);
      const b = decodeJwt(assertTokenResponse(await login()).access_token);
      assert.notEqual(a.jti, b.jti);
      assert.notEqual(a.sid, b.sid);
    });
  });

  describe('POST /auth/login (JSON)', () => {
    const jsonLogin = (payload: Record<string, unknown>) => t.inject({ method: 'POST', url: '/auth/login', payload });

    test('bad credentials: 401 problem+json ERR_OAUTH_INVALID_GRANT, identical for unknown user and wrong password', async () => {
      const unknown = await jsonLogin({ username: 'nobody-here', password: TEST_PASSWORD });
      const wrong = await jsonLogin({ username: 'alice', password: `${TEST_PASSWORD}!` });
      for (const res of [unknown, wrong]) {
        assert.equal(res.statusCode, 401);
        assert.match(String(res.headers['content-type']), /^application\/problem\+json\b/);
        assert.equal(res.json().code, 'ERR_OAUTH_INVALID_GRANT');
      }
      const strip = (res: LightMyRequestResponse) => ({ ...res.json(), request_id: undefined });
      assert.deepEqual(strip(unknown), strip(wrong));
      assert.deepEqual(headersWithout(unknown, 'date', 'x-request-id'), headersWithout(wrong, 'date', 'x-request-id'));
    });

    test('extra fields: 400 ERR_VALIDATION', async () => {
      for (const extra of [{ grant_type: 'password' }, { scope: 'admin' }]) {
        const res = await jsonLogin({ username: 'alice', password: TEST_PASSWORD, ...extra });
        assert.equal(res.statusCode, 400);
        assert.match(String(res.headers['content-type']), /^application\/problem\+json\b/);
        assert.equal(res.json().code, 'ERR_VALIDATION');
      }
    });

    test('client_id names the client (cookie mode needs it): a third-party one is refused the password as on /auth/token', async () => {
      const res = await jsonLogin({ username: 'alice', password: TEST_PASSWORD, client_id: 'partner-app' });
      assert.equal(res.statusCode, 400, res.body);
      assert.equal(res.json().code, 'ERR_OAUTH_UNAUTHORIZED_CLIENT');
    });

    test('success: the token response shape, no-store, and a token that works on /me', async () => {
      const body = assertTokenResponse(await jsonLogin({ username: 'alice', password: TEST_PASSWORD }));
      assert.equal(body.scope, 'profile');
      assert.equal(body.expires_in, 900);
      assert.equal(decodeJwt(body.access_token).sub, alice.id);
      const me = await t.inject({ method: 'GET', url: '/me', headers: bearer(body.access_token) });
      assert.equal(me.statusCode, 200);
    });
  });

  describe('legacy hashes are upgraded on login', () => {
    const storedHash = async (name: string) => (await t.services.users.findByUsernameKey(usernameKey(name)))?.passwordHash;
    const createWithHash = async (name: string, passwordHash: string) =>
      t.services.users.create({ id: randomUUID(), username: name, usernameKey: usernameKey(name), email: null, passwordHash });

    test('bcrypt: login succeeds and the stored hash becomes argon2id', async () => {
      const legacy = await bcryptHash(TEST_PASSWORD, 4);
      assert.match(legacy, /^\$2[aby]\$/);
      await createWithHash('legacy-bcrypt', legacy);
      assertTokenResponse(await postToken(t, { grant_type: 'password', username: 'legacy-bcrypt', password: TEST_PASSWORD }));
      const upgraded = await storedHash('legacy-bcrypt');
      assert.match(String(upgraded), /^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
      assert.equal(t.services.hasher.needsRehash(String(upgraded)), false);
      // The new hash still verifies the same password.
      assertTokenResponse(await postToken(t, { grant_type: 'password', username: 'legacy-bcrypt', password: TEST_PASSWORD }));
    });

    test('bcrypt with a wrong password: refused and not rehashed', async () => {
      const legacy = await bcryptHash(TEST_PASSWORD, 4);
      await createWithHash('legacy-wrong', legacy);
      assertOAuthError(await postToken(t, { grant_type: 'password', username: 'legacy-wrong', password: 'wrong password entirely' }), 400, 'invalid_grant');
      assert.equal(await storedHash('legacy-wrong'), legacy);
    });

    test('argon2id with outdated parameters (t=1): upgraded to the current parameters', async () => {
      const old = await new PasswordHasher({ timeCost: 1 }).hash(TEST_PASSWORD);
      assert.match(old, /,t=1,/);
      await createWithHash('legacy-argon', old);
      assertTokenResponse(await postToken(t, { grant_type: 'password', username: 'legacy-argon', password: TEST_PASSWORD }));
      const upgraded = await storedHash('legacy-argon');
      assert.notEqual(upgraded, old);
      assert.match(String(upgraded), /^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
    });
  });
});

describe('GATEHOUSE_ACCESS_TOKEN_TTL', () => {
  let t: TestApp;
  before(async () => {
    t = await startTestApp({ env: { GATEHOUSE_ACCESS_TOKEN_TTL: '120' } });
    await t.register('ttl-user');
  });
  after(() => t.close());

  test('sets exp - iat and expires_in', async () => {
    const body = await t.login('ttl-user');
    assert.equal(body.expires_in, 120);
    const claims = decodeJwt(body.access_token);
    assert.equal((claims.exp ?? 0) - (claims.iat ?? 0), 120);
  });
});
