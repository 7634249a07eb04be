import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { LightMyRequestResponse } from 'fastify';
import { decodeJwt } from 'jose';
import { createDrizzleUserStore } from '../../src/stores/db/drizzle-user-store.js';
import { bearer, startTestApp, TEST_ISSUER, TEST_PASSWORD, type TestApp } from '../support/test-app.js';

const FORM = { 'content-type': 'application/x-www-form-urlencoded' };
const OTHER_APP = { id: 'other-app', firstParty: true, grantTypes: ['password', 'refresh_token'] } as const;
const NEW_PASSWORD = 'a brand new passphrase for the account';

interface TokenBody {
  access_token: string;
  refresh_token: string;
  scope: string;
}

/** One login (a session), whose tokens move on as the test refreshes it. */
interface Login {
  access: string;
  refresh: string;
  readonly sid: string;
  /** The client it was issued to; its refresh token only rotates for that client. */
  readonly clientId: string | undefined;
}

function postForm(t: TestApp, url: string, params: Record<string, string> | string, headers: Record<string, string> = {}): Promise<LightMyRequestResponse> {
  const payload = typeof params === 'string' ? params : new URLSearchParams(params).toString();
  return t.inject({ method: 'POST', url, headers: { ...FORM, ...headers }, payload });
}

async function login(t: TestApp, username: string, options: { clientId?: string; password?: string } = {}): Promise<Login> {
  const params: Record<string, string> = { grant_type: 'password', username, password: options.password ?? TEST_PASSWORD };
  if (options.clientId !== undefined) params.client_id = options.clientId;
  const res = await postForm(t, '/auth/token', params);
  assert.equal(res.statusCode, 200, res.body);
  const body = res.json<TokenBody>();
  return { access: body.access_token, refresh: body.refresh_token, sid: decodeJwt(body.access_token).sid as string, clientId: options.clientId };
}

function refresh(t: TestApp, s: Pick<Login, 'refresh' | 'clientId'>): Promise<LightMyRequestResponse> {
  return postForm(t, '/auth/token', { grant_type: 'refresh_token', refresh_token: s.refresh, ...(s.clientId === undefined ? {} : { client_id: s.clientId }) });
}

function me(t: TestApp, accessToken: string): Promise<LightMyRequestResponse> {
  return t.inject({ method: 'GET', url: '/me', headers: bearer(accessToken) });
}

function revoke(t: TestApp, params: Record<string, string> | string, headers: Record<string, string> = {}): Promise<LightMyRequestResponse> {
  return postForm(t, '/auth/revoke', params, headers);
}

function assertAccessAccepted(res: LightMyRequestResponse, label: string): void {
  assert.equal(res.statusCode, 200, `${label}: ${res.body}`);
}

function assertAccessRefused(res: LightMyRequestResponse, label: string): void {
  assert.equal(res.statusCode, 401, `${label}: ${res.statusCode} ${res.body}`);
  assert.match(String(res.headers['www-authenticate']), /error="invalid_token"/, label);
}

/** The session's current access token works, its refresh token rotates, and the new access token works. */
async function assertAlive(t: TestApp, s: Login, label: string): Promise<void> {
  assertAccessAccepted(await me(t, s.access), `${label}: access token`);
  const res = await refresh(t, s);
  assert.equal(res.statusCode, 200, `${label}: refresh: ${res.body}`);
  const body = res.json<TokenBody>();
  s.access = body.access_token;
  s.refresh = body.refresh_token;
  assertAccessAccepted(await me(t, s.access), `${label}: refreshed access token`);
}

/** Both of the session's tokens are dead. */
async function assertDead(t: TestApp, s: Login, label: string): Promise<void> {
  assertAccessRefused(await me(t, s.access), `${label}: access token`);
  const res = await refresh(t, s);
  assert.equal(res.statusCode, 400, `${label}: refresh: ${res.statusCode} ${res.body}`);
  assert.equal(res.json().error, 'invalid_grant', label);
}

/** RFC 7009 §2.2: 200, empty body, not cacheable. */
function assertRevokeOk(res: LightMyRequestResponse, label = 'revoke'): void {
  assert.equal(res.statusCode, 200, `${label}: ${res.body}`);
  assert.equal(res.body, '', label);
  assert.equal(res.headers['cache-control'], 'no-store', label);
}

function assertOAuthError(res: LightMyRequestResponse, status: number, error: string): void {
  assert.equal(res.statusCode, status, res.body);
  assert.equal(res.json().error, error, res.body);
}

function assertProblem(res: LightMyRequestResponse, status: number, code: string): Record<string, unknown> {
  assert.equal(res.statusCode, status, res.body);
  assert.match(String(res.headers['content-type']), /^application\/problem\+json/);
  const body = res.json<Record<string, unknown>>();
  assert.equal(body.code, code, res.body);
  return body;
}

/** A problem body without its request_id, to compare two answers. */
function withoutRequestId(res: LightMyRequestResponse): Record<string, unknown> {
  const { request_id: _ignored, ...rest } = res.json<Record<string, unknown>>();
  return rest;
}

function post(t: TestApp, url: string, accessToken: string, payload?: unknown): Promise<LightMyRequestResponse> {
  return t.inject({ method: 'POST', url, headers: bearer(accessToken), ...(payload === undefined ? {} : { payload: payload as Record<string, unknown> }) });
}

function deleteSession(t: TestApp, accessToken: string, id: string): Promise<LightMyRequestResponse> {
  return t.inject({ method: 'DELETE', url: `/me/sessions/${encodeURIComponent(id)}`, headers: bearer(accessToken) });
}

interface SessionView {
  id: string;
  created_at: string;
  last_used_at: string;
  device: string;
  current: boolean;
}

async function listSessions(t: TestApp, accessToken: string): Promise<SessionView[]> {
  const res = await t.inject({ method: 'GET', url: '/me/sessions', headers: bearer(accessToken) });
  assert.equal(res.statusCode, 200, res.body);
  assert.equal(res.headers['cache-control'], 'no-store');
  return res.json<SessionView[]>();
}

/** The same token with one payload claim changed and the original signature kept. */
function withClaim(token: string, claim: string, value: unknown): string {
  const [header, payload, signature] = token.split('.') as [string, string, string];
  const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Record<string, unknown>;
  claims[claim] = value;
  return `${header}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.${signature}`;
}

describe('revocation endpoints', () => {
  let t: TestApp;
  let users = 0;
  /** A fresh user per test, so one test's revocations cannot leak into another. */
  const freshUser = async (): Promise<string> => {
    const name = `rv-user-${++users}`;
    await t.register(name);
    return name;
  };

  before(async () => {
    t = await startTestApp({ overrides: { clients: [OTHER_APP] } });
  });
  after(() => t.close());

  describe('malicious cases', () => {
    test("/auth/revoke with another client's refresh token: 400 unauthorized_client, nothing revoked", async () => {
      const victim = await login(t, await freshUser(), { clientId: 'other-app' });
      assertOAuthError(await revoke(t, { token: victim.refresh }), 400, 'unauthorized_client');
      assertOAuthError(await revoke(t, { token: victim.refresh, client_id: 'gatehouse-cli' }), 400, 'unauthorized_client');
      await assertAlive(t, victim, "the other client's session");
    });

    test("/auth/revoke with another client's access token: 400 unauthorized_client, nothing revoked", async () => {
      const victim = await login(t, await freshUser(), { clientId: 'other-app' });
      assertOAuthError(await revoke(t, { token: victim.access, token_type_hint: 'access_token' }), 400, 'unauthorized_client');
      await assertAlive(t, victim, "the other client's session");
    });

    test('/auth/revoke: a repeated token parameter is 400 invalid_request and revokes neither', async () => {
      const name = await freshUser();
      const a = await login(t, name);
      const b = await login(t, name);
      const body = `token=${encodeURIComponent(a.refresh)}&token=${encodeURIComponent(b.refresh)}`;
      assertOAuthError(await revoke(t, body), 400, 'invalid_request');
      await assertAlive(t, a, 'first');
      await assertAlive(t, b, 'second');
    });

    test('/auth/revoke: a client identified twice (client_id and Basic disagree) or with a secret is refused, nothing revoked', async () => {
      const s = await login(t, await freshUser(), { clientId: 'other-app' });
      const basic = (id: string, secret = ''): Record<string, string> => ({ authorization: `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}` });
      assertOAuthError(await revoke(t, { token: s.refresh, client_id: 'other-app' }, basic('gatehouse-cli')), 400, 'invalid_request');
      assertOAuthError(await revoke(t, { token: s.refresh }, basic('other-app', 'guessed-secret')), 401, 'invalid_client');
      assertOAuthError(await revoke(t, { token: s.refresh, client_id: 'other-app', client_secret: 'x' }), 401, 'invalid_client');
      await assertAlive(t, s, 'session');
    });

    test('/auth/revoke: a JSON body is 415 and revokes nothing (only forms, RFC 7009 §2.1)', async () => {
      const s = await login(t, await freshUser());
      const res = await t.inject({ method: 'POST', url: '/auth/revoke', payload: { token: s.refresh } });
      assert.equal(res.statusCode, 415, res.body);
      await assertAlive(t, s, 'session');
    });

    test('/auth/revoke: a Bearer Authorization header is not client authentication (400) and revokes nothing', async () => {
      const s = await login(t, await freshUser());
      assertOAuthError(await revoke(t, { token: s.refresh }, bearer(s.access)), 400, 'invalid_request');
      await assertAlive(t, s, 'session');
    });

    test('a logged-out access token can no longer log out everywhere, list or delete sessions', async () => {
      const name = await freshUser();
      const stolen = await login(t, name);
      const other = await login(t, name);
      assert.equal((await post(t, '/auth/logout', stolen.access)).statusCode, 204);
      assertAccessRefused(await post(t, '/auth/logout-all', stolen.access), 'logout-all');
      assertAccessRefused(await t.inject({ method: 'GET', url: '/me/sessions', headers: bearer(stolen.access) }), 'list');
      assertAccessRefused(await deleteSession(t, stolen.access, other.sid), 'delete');
      assertAccessRefused(await post(t, '/me/password', stolen.access, { current_password: TEST_PASSWORD, new_password: NEW_PASSWORD }), 'password');
      await assertAlive(t, other, 'the other session');
    });

    test("GET /me/sessions never lists another user's sessions", async () => {
      const mine = await login(t, await freshUser());
      const theirs = await login(t, await freshUser());
      const listed = await listSessions(t, mine.access);
      assert.deepEqual(
        listed.map((s) => s.id),
        [mine.sid],
      );
      assert.ok(!JSON.stringify(listed).includes(theirs.sid));
    });

    test("DELETE someone else's session: 404, same body as an unknown or ended id, and their session still works", async () => {
      const attackerName = await freshUser();
      const attacker = await login(t, attackerName);
      const attackerEnded = await login(t, attackerName);
      assert.equal((await post(t, '/auth/logout', attackerEnded.access)).statusCode, 204);
      const victimName = await freshUser();
      const victim = await login(t, victimName);
      const ended = await login(t, victimName);
      assert.equal((await post(t, '/auth/logout', ended.access)).statusCode, 204);

      const foreign = await deleteSession(t, attacker.access, victim.sid);
      assertProblem(foreign, 404, 'ERR_NOT_FOUND');
      const unknown = await deleteSession(t, attacker.access, '00000000-0000-4000-8000-000000000000');
      const foreignEnded = await deleteSession(t, attacker.access, ended.sid);
      const ownEnded = await deleteSession(t, attacker.access, attackerEnded.sid);
      for (const res of [unknown, foreignEnded, ownEnded]) {
        assertProblem(res, 404, 'ERR_NOT_FOUND');
        assert.deepEqual(withoutRequestId(res), withoutRequestId(foreign));
      }
      await assertAlive(t, victim, "the victim's session");
    });

    test('REGRESSION: DELETE /me/sessions/<own session id in upper case> must not leave its access token alive', async () => {
      // UUIDs compare case-insensitively in the database, so the refresh side is revoked; the access
      // tokens carry the lower-case sid, so a revocation published under the upper-case id misses them.
      const name = await freshUser();
      const current = await login(t, name);
      const lost = await login(t, name);
      const res = await deleteSession(t, current.access, lost.sid.toUpperCase());
      assert.ok(res.statusCode === 204 || res.statusCode === 404, `${res.statusCode} ${res.body}`);
      if (res.statusCode === 204) {
        // Revoked: then completely, access token included.
        assertAccessRefused(await me(t, lost.access), 'access token of the session deleted by its upper-case id');
        await assertDead(t, lost, 'session deleted by its upper-case id');
      } else {
        await assertAlive(t, lost, 'session not deleted');
      }
      await assertAlive(t, current, 'current session');
    });

    for (const bad of ['x'.repeat(60), "' OR 1=1 --", '00000000-0000-4000-8000-00000000000Z', '%00', 'ﬀ'.repeat(20)]) {
      test(`DELETE /me/sessions/${JSON.stringify(bad.slice(0, 20))}: 404 ERR_NOT_FOUND, not 500`, async () => {
        const s = await login(t, await freshUser());
        const res = await deleteSession(t, s.access, bad);
        assertProblem(res, 404, 'ERR_NOT_FOUND');
        const unknown = await deleteSession(t, s.access, '00000000-0000-4000-8000-000000000000');
        assert.deepEqual(withoutRequestId(res), withoutRequestId(unknown));
        await assertAlive(t, s, 'own session');
      });
    }

    test('DELETE /me/sessions/<longer than 64 characters>: a 4xx, never a 5xx', async () => {
      const s = await login(t, await freshUser());
      const res = await deleteSession(t, s.access, 'x'.repeat(500));
      assert.ok(res.statusCode >= 400 && res.statusCode < 500, `${res.statusCode} ${res.body}`);
    });

    test('POST /me/password with a wrong current password: 403, nothing changed', async () => {
      const name = await freshUser();
      const current = await login(t, name);
      const other = await login(t, name);
      const res = await post(t, '/me/password', current.access, { current_password: 'not the password at all', new_password: NEW_PASSWORD });
      assertProblem(res, 403, 'ERR_CURRENT_PASSWORD_WRONG');
      await assertAlive(t, other, 'other session');
      await assertAlive(t, current, 'current session');
      await login(t, name); // the old password still logs in
      const withNew = await postForm(t, '/auth/token', { grant_type: 'password', username: name, password: NEW_PASSWORD });
      assertOAuthError(withNew, 400, 'invalid_grant');
    });

    test('refresh-token reuse revokes the access token the session holds right now', async () => {
      const s = await login(t, await freshUser());
      const spent = s.refresh;
      const rotated = await refresh(t, s);
      assert.equal(rotated.statusCode, 200, rotated.body);
      const live = rotated.json<TokenBody>();
      assertAccessAccepted(await me(t, live.access_token), 'before reuse');

      assertOAuthError(await refresh(t, { refresh: spent, clientId: undefined }), 400, 'invalid_grant');
      assertAccessRefused(await me(t, live.access_token), 'the live access token right after reuse');
      assertAccessRefused(await me(t, s.access), 'the first access token');
      assertOAuthError(await refresh(t, { refresh: live.refresh_token, clientId: undefined }), 400, 'invalid_grant');
    });

    test('an access token with a raised `tver` is refused (its signature no longer matches)', async () => {
      const name = await freshUser();
      const old = await login(t, name);
      assert.equal((await post(t, '/auth/logout-all', (await login(t, name)).access)).statusCode, 204);
      const fresh = await login(t, name);
      const version = decodeJwt(fresh.access).tver;
      assert.equal(version, 1);
      assertAccessAccepted(await me(t, fresh.access), 'fresh token');
      assertAccessRefused(await me(t, withClaim(old.access, 'tver', version)), 'old token, tver raised');
      assertAccessRefused(await me(t, withClaim(old.access, 'tver', 1000)), 'old token, tver far ahead');
      assertAccessRefused(await me(t, withClaim(fresh.access, 'tver', 2)), 'even a live token, tampered');
    });

    test('a token minted before a token-version bump is refused, though its session lives on', async () => {
      // The bump alone (no session revoked): only `tver` can be what refuses the old token.
      const name = await freshUser();
      const s = await login(t, name);
      const before = s.access;
      const userId = decodeJwt(before).sub as string;
      assert.equal(await t.services.users.revokeAllTokens(userId, new Date(t.services.now())), 1);
      assertAccessRefused(await me(t, before), 'token with tver 0');
      const res = await refresh(t, s);
      assert.equal(res.statusCode, 200, res.body);
      const next = res.json<TokenBody>().access_token;
      assert.equal(decodeJwt(next).tver, 1);
      assertAccessAccepted(await me(t, next), 'token issued after the bump');
    });
  });

  describe('POST /auth/logout', () => {
    test('kills the presented access token and the refresh token of its session, and no other session', async () => {
      const name = await freshUser();
      const current = await login(t, name);
      const sibling = await login(t, name);
      const secondToken = await refresh(t, { ...current });
      // `current` has a second access token now: both die with the session.
      const alsoCurrent = secondToken.json<TokenBody>();
      current.refresh = alsoCurrent.refresh_token;

      const res = await post(t, '/auth/logout', current.access);
      assert.equal(res.statusCode, 204, res.body);
      assert.equal(res.body, '');
      assert.equal(res.headers['cache-control'], 'no-store');
      await assertDead(t, current, 'logged-out session');
      assertAccessRefused(await me(t, alsoCurrent.access_token), 'the other access token of the logged-out session');
      await assertAlive(t, sibling, 'another session of the same user');
      assert.equal((await t.services.sessions.find(current.sid))?.revokedReason, 'logout');
    });

    test('needs a bearer token', async () => {
      const res = await t.inject({ method: 'POST', url: '/auth/logout' });
      assertProblem(res, 401, 'ERR_NO_CREDENTIAL');
    });

    test('works with a token of any scope (an empty scope too)', async () => {
      const name = await freshUser();
      const res = await postForm(t, '/auth/token', { grant_type: 'password', username: name, password: TEST_PASSWORD, scope: '' });
      const body = res.json<TokenBody>();
      assert.equal(body.scope, '');
      assert.equal((await post(t, '/auth/logout', body.access_token)).statusCode, 204);
      assertAccessRefused(await post(t, '/auth/logout', body.access_token), 'second logout');
    });
  });

  describe('POST /auth/logout-all', () => {
    test("kills every session's access and refresh tokens of the user, not another user's", async () => {
      const name = await freshUser();
      const a = await login(t, name);
      const b = await login(t, name);
      const c = await login(t, name, { clientId: 'other-app' });
      const bystander = await login(t, await freshUser());

      const res = await post(t, '/auth/logout-all', a.access);
      assert.equal(res.statusCode, 204, res.body);
      for (const [label, s] of [
        ['caller', a],
        ['second', b],
        ['other client', c],
      ] as const)
        await assertDead(t, s, label);
      await assertAlive(t, bystander, 'another user');
    });

    test('a fresh login afterwards works, and so does its refresh', async () => {
      const name = await freshUser();
      const a = await login(t, name);
      assert.equal((await post(t, '/auth/logout-all', a.access)).statusCode, 204);
      const again = await login(t, name);
      await assertAlive(t, again, 'new session');
      assert.deepEqual(
        (await listSessions(t, again.access)).map((s) => s.id),
        [again.sid],
      );
    });
  });

  describe('POST /auth/revoke (RFC 7009)', () => {
    test('a refresh token: its whole session dies, access token included; another session lives', async () => {
      const name = await freshUser();
      const s = await login(t, name);
      const sibling = await login(t, name);
      assertRevokeOk(await revoke(t, { token: s.refresh, token_type_hint: 'refresh_token' }));
      await assertDead(t, s, 'revoked session');
      await assertAlive(t, sibling, 'sibling');
      assertRevokeOk(await revoke(t, { token: s.refresh }), 'revoking again');
    });

    test('an access token: only that jti dies; its refresh token still rotates and the new access token works', async () => {
      const s = await login(t, await freshUser());
      const revoked = s.access;
      assertRevokeOk(await revoke(t, { token: revoked, token_type_hint: 'access_token' }));
      assertAccessRefused(await me(t, revoked), 'revoked access token');
      const res = await refresh(t, s);
      assert.equal(res.statusCode, 200, res.body);
      const next = res.json<TokenBody>();
      assertAccessAccepted(await me(t, next.access_token), 'new access token of the same session');
      assertAccessRefused(await me(t, revoked), 'still revoked after the refresh');
    });

    test('the hint is only a hint: a wrong or unknown hint still revokes', async () => {
      const s = await login(t, await freshUser());
      assertRevokeOk(await revoke(t, { token: s.refresh, token_type_hint: 'access_token' }));
      await assertDead(t, s, 'refresh token with an access_token hint');
      const u = await login(t, await freshUser());
      assertRevokeOk(await revoke(t, { token: u.access, token_type_hint: 'something_else' }));
      assertAccessRefused(await me(t, u.access), 'access token with an unknown hint');
    });

    test('the client may identify itself by client_id or by Basic (RFC 6749 §2.3.1)', async () => {
      const byBody = await login(t, await freshUser(), { clientId: 'other-app' });
      assertRevokeOk(await revoke(t, { token: byBody.refresh, client_id: 'other-app' }));
      await assertDead(t, byBody, 'revoked by client_id');
      const byBasic = await login(t, await freshUser(), { clientId: 'other-app' });
      assertRevokeOk(await revoke(t, { token: byBasic.access }, { authorization: `Basic ${Buffer.from('other-app:').toString('base64')}` }));
      assertAccessRefused(await me(t, byBasic.access), 'revoked by Basic');
    });

    const unknownTokens: [string, string][] = [
      ['an unknown refresh token', `ghr_${'A'.repeat(43)}`],
      ['garbage', 'not a token at all'],
      ['SQL', "' OR 1=1 --"],
      ['a JWT-shaped string', 'aaaa.bbbb.cccc'],
      ['8192 characters', 'x'.repeat(8192)],
    ];
    for (const [label, token] of unknownTokens) {
      test(`${label}: 200 with an empty body`, async () => {
        assertRevokeOk(await revoke(t, { token }), label);
      });
    }

    test('a forged access token (signature broken): 200, and the real one is untouched', async () => {
      const s = await login(t, await freshUser());
      assertRevokeOk(await revoke(t, { token: withClaim(s.access, 'scope', '') }));
      assertAccessAccepted(await me(t, s.access), 'the real token');
    });

    test('a missing or empty token: 400 invalid_request', async () => {
      assertOAuthError(await revoke(t, {}), 400, 'invalid_request');
      assertOAuthError(await revoke(t, { token: '' }), 400, 'invalid_request');
      assertOAuthError(await revoke(t, { token_type_hint: 'refresh_token' }), 400, 'invalid_request');
    });

    test('an unknown client: 401 invalid_client', async () => {
      const s = await login(t, await freshUser());
      assertOAuthError(await revoke(t, { token: s.refresh, client_id: 'nobody' }), 401, 'invalid_client');
      await assertAlive(t, s, 'session');
    });

    test('advertised as revocation_endpoint in the authorization server metadata (RFC 8414)', async () => {
      const res = await t.inject({ method: 'GET', url: '/.well-known/oauth-authorization-server' });
      assert.equal(res.statusCode, 200);
      assert.equal(res.json().revocation_endpoint, `${TEST_ISSUER}/auth/revoke`);
    });
  });

  describe('GET and DELETE /me/sessions', () => {
    test('lists only live sessions, newest first, with `current` set for the caller only', async () => {
      const name = await freshUser();
      const first = await login(t, name);
      const second = await login(t, name, { clientId: 'other-app' });
      const ended = await login(t, name);
      assert.equal((await post(t, '/auth/logout', ended.access)).statusCode, 204);
      const third = await login(t, name);

      const listed = await listSessions(t, first.access);
      assert.deepEqual(
        listed.map((s) => s.id),
        [third.sid, second.sid, first.sid],
      );
      for (const s of listed) {
        assert.deepEqual(Object.keys(s).sort(), ['created_at', 'current', 'device', 'id', 'last_used_at']);
        assert.equal(s.current, s.id === first.sid, s.id);
      }
      const fromThird = await listSessions(t, third.access);
      assert.deepEqual(
        fromThird.filter((s) => s.current).map((s) => s.id),
        [third.sid],
      );
    });

    test('DELETE one of your other sessions: its access and refresh tokens die, the current one is unaffected', async () => {
      const name = await freshUser();
      const current = await login(t, name);
      const lost = await login(t, name);
      const res = await deleteSession(t, current.access, lost.sid);
      assert.equal(res.statusCode, 204, res.body);
      await assertDead(t, lost, 'deleted session');
      await assertAlive(t, current, 'current session');
      assert.deepEqual(
        (await listSessions(t, current.access)).map((s) => s.id),
        [current.sid],
      );
      assertProblem(await deleteSession(t, current.access, lost.sid), 404, 'ERR_NOT_FOUND');
    });

    test('DELETE your own current session logs you out', async () => {
      const s = await login(t, await freshUser());
      assert.equal((await deleteSession(t, s.access, s.sid)).statusCode, 204);
      await assertDead(t, s, 'own current session');
    });
  });

  describe('POST /me/password', () => {
    test('a weak new password: 400 ERR_PASSWORD_POLICY naming new_password, nothing changed', async () => {
      const name = await freshUser();
      const current = await login(t, name);
      const other = await login(t, name);
      for (const weak of ['short', 'password', name]) {
        const res = await post(t, '/me/password', current.access, { current_password: TEST_PASSWORD, new_password: weak });
        const body = assertProblem(res, 400, 'ERR_PASSWORD_POLICY');
        assert.equal((body.errors as { field: string }[] | undefined)?.[0]?.field, 'new_password', res.body);
      }
      await assertAlive(t, other, 'other session');
      await login(t, name);
    });

    test('success: other sessions die, this one lives on, the old password stops working and the new one works', async () => {
      const name = await freshUser();
      const current = await login(t, name);
      const other = await login(t, name);
      const otherClient = await login(t, name, { clientId: 'other-app' });

      const res = await post(t, '/me/password', current.access, { current_password: TEST_PASSWORD, new_password: NEW_PASSWORD });
      assert.equal(res.statusCode, 204, res.body);
      await assertDead(t, other, 'other session');
      await assertDead(t, otherClient, 'session of another client');
      // The caller is not logged out by securing the account.
      assertAccessAccepted(await me(t, current.access), 'current access token');
      await assertAlive(t, current, 'current session');

      assertOAuthError(await postForm(t, '/auth/token', { grant_type: 'password', username: name, password: TEST_PASSWORD }), 400, 'invalid_grant');
      await assertAlive(t, await login(t, name, { password: NEW_PASSWORD }), 'login with the new password');
    });

    test('concurrent changes from one session: exactly one wins, and only its password logs in', async () => {
      const name = await freshUser();
      const current = await login(t, name);
      const candidates = Array.from({ length: 5 }, (_, i) => `${NEW_PASSWORD} number ${i}`);
      const responses = await Promise.all(candidates.map((p) => post(t, '/me/password', current.access, { current_password: TEST_PASSWORD, new_password: p })));
      const statuses = responses.map((r) => r.statusCode);
      assert.equal(statuses.filter((x) => x === 204).length, 1, statuses.join(','));
      for (const r of responses.filter((x) => x.statusCode !== 204)) {
        assert.ok(r.statusCode === 409 || r.statusCode === 403, `${r.statusCode} ${r.body}`);
      }
      const winner = candidates[statuses.indexOf(204)] as string;
      for (const p of [TEST_PASSWORD, ...candidates]) {
        const res = await postForm(t, '/auth/token', { grant_type: 'password', username: name, password: p });
        assert.equal(res.statusCode, p === winner ? 200 : 400, `login with ${p === winner ? 'the winning' : 'a losing'} password: ${res.body}`);
      }
      await assertAlive(t, current, 'current session');
    });

    test('an unknown field or a missing one is refused before anything changes', async () => {
      const name = await freshUser();
      const current = await login(t, name);
      const other = await login(t, name);
      for (const payload of [{ new_password: NEW_PASSWORD }, { current_password: TEST_PASSWORD, new_password: NEW_PASSWORD, user_id: 'someone' }]) {
        const res = await post(t, '/me/password', current.access, payload);
        assert.equal(res.statusCode, 400, res.body);
      }
      await assertAlive(t, other, 'other session');
    });
  });
});

describe('injected clock: expired tokens, and a token version bumped behind the list', () => {
  let clock = Date.parse('2030-01-01T00:00:00Z');
  let t: TestApp;
  before(async () => {
    t = await startTestApp({ overrides: { now: () => clock } });
  });
  after(() => t.close());

  test('an expired access token: 200 with an empty body', async () => {
    await t.register('expiring');
    const s = await login(t, 'expiring');
    clock += 24 * 60 * 60_000;
    assertAccessRefused(await me(t, s.access), 'expired');
    assertRevokeOk(await revoke(t, { token: s.access }), 'expired access token');
    assertRevokeOk(await revoke(t, { token: s.refresh }), 'refresh token of an expired session');
  });

  test('a token-version bump the revocation list never heard of is still refused, through the user record', async () => {
    // Written by the raw store: no pub/sub message, no cache invalidation, as when the bump is older
    // than the list's window or came from outside this deployment's feed. Only the guard's own
    // `tver` check against the user can refuse the token.
    const { id } = await t.register('bumped-elsewhere');
    const s = await login(t, 'bumped-elsewhere');
    assertAccessAccepted(await me(t, s.access), 'before the bump');
    assert.equal(await createDrizzleUserStore(t.services.database.db).revokeAllTokens(id, new Date(clock)), 1);
    clock += 2_000; // past the guard's user cache (1 s)
    assertAccessRefused(await me(t, s.access), 'after the bump');
  });
});
