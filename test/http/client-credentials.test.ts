import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { decodeProtectedHeader } from 'jose';
import { createVerifier, InvalidTokenError, type Verifier } from '../../packages/verify/src/index.js';
import { InvalidTokenError as RefusedError } from '../../src/errors/errors.js';
import { bearer, startTestApp, TEST_ISSUER, type TestApp } from '../support/test-app.js';

const FORM = { 'content-type': 'application/x-www-form-urlencoded' };
const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`;

describe('client-credentials grant (RFC 6749 §4.4) for service accounts', () => {
  let t: TestApp;
  let adminToken: string;
  let verifier: Verifier;
  let bot: { id: string };
  let botKey: string;

  before(async () => {
    // Three wrong secrets for one client from one address, then 429: the login limits, by client_id.
    t = await startTestApp({ env: { GATEHOUSE_LIMIT_LOGIN_USER_IP: '3/15m' } });
    const admin = await t.register('cc-admin');
    await t.services.userDirectory.changeRole(admin.id, { grant: 'admin' });
    adminToken = (await t.login('cc-admin')).access_token;
    bot = await newAccount('cc-bot', ['admin']);
    botKey = await newKey(bot.id, ['profile', 'admin:audit']);
    const jwks = (await t.inject({ method: 'GET', url: '/.well-known/jwks.json' })).json<{ keys: object[] }>();
    verifier = createVerifier({ issuer: TEST_ISSUER, audience: TEST_ISSUER, jwks: jwks as never });
  });
  after(async () => t.close());

  async function newAccount(name: string, roles: string[] = []): Promise<{ id: string }> {
    const res = await t.inject({ method: 'POST', url: '/admin/service-accounts', headers: bearer(adminToken), payload: { name, roles } });
    assert.equal(res.statusCode, 201, res.body);
    return res.json();
  }
  async function createKey(accountId: string, payload: object): Promise<{ id: string; key: string; expires_at: string | null }> {
    const res = await t.inject({ method: 'POST', url: `/admin/service-accounts/${accountId}/keys`, headers: bearer(adminToken), payload });
    assert.equal(res.statusCode, 201, res.body);
    return res.json();
  }
  async function newKey(accountId: string, scopes: string[] = ['profile']): Promise<string> {
    return (await createKey(accountId, { name: 'cc', scopes })).key;
  }
  const grant = (fields: Record<string, string>, headers: Record<string, string> = {}) =>
    t.inject({
      method: 'POST',
      url: '/auth/token',
      headers: { ...FORM, ...headers },
      payload: new URLSearchParams({ grant_type: 'client_credentials', ...fields }).toString(),
    });
  const viaBasic = (id: string, secret: string, fields: Record<string, string> = {}) => grant(fields, { authorization: basic(id, secret) });
  const viaPost = (id: string, secret: string, fields: Record<string, string> = {}) => grant({ client_id: id, client_secret: secret, ...fields });

  test('malicious: both client_secret_basic and client_secret_post at once is invalid_request, even with the right secret', async () => {
    const res = await viaBasic(bot.id, botKey, { client_secret: botKey });
    assert.equal(res.statusCode, 400, res.body);
    assert.equal(res.json<{ error: string }>().error, 'invalid_request');
    assert.equal((await viaBasic(bot.id, botKey, { client_id: 'someone-else' })).statusCode, 400, 'two different client ids');
  });

  test("malicious: a wrong secret (another account's key), a forged key or none is invalid_client (401, WWW-Authenticate Basic)", async () => {
    // Three failures per client at most here: a fourth would be throttled (GATEHOUSE_LIMIT_LOGIN_USER_IP above).
    const [victim, other] = [await newAccount('cc-victim'), await newAccount('cc-other')];
    const [victimKey, otherKey] = [await newKey(victim.id), await newKey(other.id)];
    for (const res of [
      await viaBasic(victim.id, otherKey),
      await viaPost(victim.id, `${victimKey.slice(0, -1)}${victimKey.endsWith('0') ? '1' : '0'}`),
      await viaPost(other.id, 'not a key at all'),
      await grant({}),
      await grant({ client_id: other.id }),
    ]) {
      assert.equal(res.statusCode, 401, res.body);
      assert.equal(res.json<{ error: string }>().error, 'invalid_client');
      assert.match(String(res.headers['www-authenticate']), /^Basic realm=/);
    }
    const failed = await t.services.audit.list({ event: 'client_credentials.failed', limit: 20 });
    assert.ok(failed.some((r) => r.reason === 'not_the_owner' && r.subjectId === other.id));
    assert.ok(failed.some((r) => r.reason === 'bad_secret'));
  });

  test("malicious: a person's API key is no client secret, not even with the person's own id", async () => {
    const person = await t.register('cc-person');
    const personToken = (await t.login('cc-person')).access_token;
    const created = await t.inject({ method: 'POST', url: '/me/api-keys', headers: bearer(personToken), payload: { name: 'mine', scopes: ['profile'] } });
    assert.equal(created.statusCode, 201, created.body);
    const key = created.json<{ key: string }>().key;
    const res = await viaBasic(person.id, key);
    assert.equal(res.statusCode, 401, res.body);
    assert.equal(res.json<{ error: string }>().error, 'invalid_client');
  });

  test('malicious: a revoked key, or a disabled account, is invalid_client; the disabled account loses its live tokens too', async () => {
    const account = await newAccount('cc-revoked');
    const { id: keyId, key } = await createKey(account.id, { name: 'k', scopes: ['profile'] });
    const live = await viaBasic(account.id, key);
    assert.equal(live.statusCode, 200, live.body);
    const token = live.json<{ access_token: string }>().access_token;
    assert.equal((await t.inject({ method: 'GET', url: '/me', headers: bearer(token) })).statusCode, 200);
    assert.equal(
      (await t.inject({ method: 'DELETE', url: `/admin/service-accounts/${account.id}/keys/${keyId}`, headers: bearer(adminToken) })).statusCode,
      204,
    );
    assert.equal((await viaBasic(account.id, key)).statusCode, 401, 'revoked key');

    const disabledKey = await newKey(account.id);
    const before = await viaPost(account.id, disabledKey);
    assert.equal(before.statusCode, 200);
    const disabledToken = before.json<{ access_token: string }>().access_token;
    assert.equal((await t.inject({ method: 'POST', url: `/admin/service-accounts/${account.id}/disable`, headers: bearer(adminToken) })).statusCode, 200);
    assert.equal((await viaPost(account.id, disabledKey)).statusCode, 401, 'disabled account');
    assert.equal((await t.inject({ method: 'GET', url: '/me', headers: bearer(disabledToken) })).statusCode, 401, 'its token is dead (token version)');
  });

  test("malicious: revoking a key kills the tokens granted with it, at Gatehouse, on a socket and on a resource server on the feed; the account's other key's tokens live on", async () => {
    const account = await newAccount('cc-cut');
    const { id: keyId, key } = await createKey(account.id, { name: 'leaked', scopes: ['profile'] });
    const otherKey = await newKey(account.id);
    const tokenOf = async (secret: string): Promise<string> => {
      const res = await viaBasic(account.id, secret);
      assert.equal(res.statusCode, 200, res.body);
      return res.json<{ access_token: string }>().access_token;
    };
    const [leaked, kept] = [await tokenOf(key), await tokenOf(otherKey)];
    const resourceServer = createVerifier({
      issuer: TEST_ISSUER,
      audience: TEST_ISSUER,
      jwks: (await t.inject({ method: 'GET', url: '/.well-known/jwks.json' })).json() as never,
    });
    await resourceServer.subscribeRevocations({
      feed: { subscribe: (onMessage) => t.services.ephemeral.subscribe('revocations', { onMessage, onResubscribed: () => {} }) },
      catchUp: false,
    });
    try {
      assert.equal((await resourceServer.verify(leaked)).apiKeyId, keyId, 'the token names its key');
      const me = async (token: string) => (await t.inject({ method: 'GET', url: '/me', headers: bearer(token) })).statusCode;
      assert.equal(await me(leaked), 200);
      const origin = 'https://app.example';
      const bearerPrincipal = await t.services.authenticator.authenticate(leaked);
      const [ticket, laterTicket] = [await t.services.wsTickets.issue(bearerPrincipal, origin), await t.services.wsTickets.issue(bearerPrincipal, origin)];
      assert.equal((await t.services.wsTickets.redeem(ticket.ticket, origin)).apiKeyId, keyId, "the socket's principal remembers the key");

      const revoked = await t.inject({ method: 'DELETE', url: `/admin/service-accounts/${account.id}/keys/${keyId}`, headers: bearer(adminToken) });
      assert.equal(revoked.statusCode, 204);
      assert.equal(await me(leaked), 401, 'dead at Gatehouse before its exp');
      await assert.rejects(t.services.wsTickets.redeem(laterTicket.ticket, origin), RefusedError, 'no socket opens with it');
      let refused = false;
      for (let i = 0; i < 100 && !refused; i++) {
        refused = await resourceServer.verify(leaked).then(
          () => false,
          (e: unknown) => e instanceof InvalidTokenError,
        );
        if (!refused) await new Promise((resolve) => setTimeout(resolve, 20));
      }
      assert.ok(refused, 'dead on the resource server');
      assert.equal(await me(kept), 200, "the other key's token lives on");
      assert.ok(await resourceServer.verify(kept));
      // The entry lasts as long as a token granted a moment before the revocation can: after a restart too.
      const entries = (await t.services.revocationPages.page(undefined, 1000)).entries.filter((e) => e.id === `apikey:${keyId}`);
      assert.equal(entries.length, 1, JSON.stringify(entries));
      assert.ok(entries[0]!.until >= Date.now() + (t.services.config.accessTokenTtlSeconds - 5) * 1000, 'kept for a token lifetime');
    } finally {
      await resourceServer.close();
    }
  });

  test('a token never outlives its key: a key that expires in a minute grants a token that expires with it', async () => {
    const account = await newAccount('cc-expiring');
    const { key, expires_at } = await createKey(account.id, { name: 'short', scopes: ['profile'], expires_in: 60 });
    assert.ok(t.services.config.accessTokenTtlSeconds > 60, 'the key ends before a full token lifetime would');
    const res = await viaBasic(account.id, key);
    assert.equal(res.statusCode, 200, res.body);
    const body = res.json<{ access_token: string; expires_in: number }>();
    const principal = await verifier.verify(body.access_token);
    assert.ok(expires_at !== null && principal.expiresAt * 1000 <= Date.parse(expires_at), `exp ${principal.expiresAt} after the key's end ${expires_at}`);
    assert.ok(body.expires_in <= 60 && body.expires_in >= 55, `expires_in ${body.expires_in}`);
    assert.equal(body.expires_in, principal.expiresAt - principal.claims.iat);
  });

  test('malicious: a service-account token cannot mint API keys for the account (admins manage them)', async () => {
    const res = await viaBasic(bot.id, botKey, { scope: 'profile' });
    const token = res.json<{ access_token: string }>().access_token;
    const minted = await t.inject({ method: 'POST', url: '/me/api-keys', headers: bearer(token), payload: { name: 'more', scopes: ['profile'] } });
    assert.equal(minted.statusCode, 403, minted.body);
  });

  test('malicious: a service-account token cannot give the account a password: answered as a wrong current password', async () => {
    const token = (await viaBasic(bot.id, botKey, { scope: 'profile' })).json<{ access_token: string }>().access_token;
    const res = await t.inject({
      method: 'POST',
      url: '/me/password',
      headers: bearer(token),
      payload: { current_password: 'anything at all, really', new_password: 'a brand new long passphrase here' },
    });
    assert.equal(res.statusCode, 403, res.body);
    assert.equal((await t.services.users.findById(bot.id))?.passwordHash, null, 'still no password');
  });

  test('malicious: a scope beyond the key is refused (invalid_scope); the token never carries more than the key holds now', async () => {
    const res = await viaBasic(bot.id, botKey, { scope: 'admin:users' });
    assert.equal(res.statusCode, 400, res.body);
    assert.equal(res.json<{ error: string }>().error, 'invalid_scope');
    const narrowed = await viaBasic(bot.id, botKey, { scope: 'profile admin:users' });
    assert.equal(narrowed.json<{ scope: string }>().scope, 'profile');
  });

  test('malicious: wrong secrets for one client are throttled like failed logins (429 with Retry-After)', async () => {
    const target = await newAccount('cc-guessed');
    const key = await newKey(target.id);
    const wrong = await newKey((await newAccount('cc-guesser')).id);
    for (let i = 0; i < 3; i++) assert.equal((await viaBasic(target.id, wrong)).statusCode, 401);
    const refused = await viaBasic(target.id, wrong);
    assert.equal(refused.statusCode, 429, refused.body);
    assert.ok(Number(refused.headers['retry-after']) > 0);
    assert.equal((await viaBasic(target.id, key)).statusCode, 429, 'the right one waits too, from this address');
  });

  test('client_secret_basic and client_secret_post: a short-lived RFC 9068 token for the account, no refresh token, verified offline by @gatehouse/verify', async () => {
    for (const res of [await viaBasic(bot.id, botKey), await viaPost(bot.id, botKey)]) {
      assert.equal(res.statusCode, 200, res.body);
      assert.equal(res.headers['cache-control'], 'no-store');
      const body = res.json<Record<string, unknown>>();
      assert.equal(body.refresh_token, undefined);
      assert.equal(body.token_type, 'Bearer');
      assert.deepEqual(String(body.scope).split(' ').sort(), ['admin:audit', 'profile']);
      assert.equal(decodeProtectedHeader(String(body.access_token)).typ, 'at+jwt');
      const principal = await verifier.verify(String(body.access_token));
      assert.equal(principal.subject, bot.id);
      assert.equal(principal.clientId, bot.id);
      assert.equal(principal.sessionId, undefined, 'no session');
      assert.equal(principal.claims.sid, undefined);
      assert.match(String(principal.claims.akid), /^[0-9A-Za-z]{17}$/, 'the key id, never its secret');
      assert.ok(!botKey.endsWith(String(principal.claims.akid)) && !String(body.access_token).includes(botKey.slice(-43)));
      assert.ok(principal.scopes.has('admin:audit'));
      assert.ok(principal.expiresAt - Date.now() / 1000 <= t.services.config.accessTokenTtlSeconds + 1);
    }
  });

  test('the RFC 8414 metadata advertises the grant and both client authentication methods', async () => {
    const meta = (await t.inject({ method: 'GET', url: '/.well-known/oauth-authorization-server' })).json<Record<string, string[]>>();
    assert.ok(meta.grant_types_supported?.includes('client_credentials'));
    for (const method of ['client_secret_basic', 'client_secret_post']) assert.ok(meta.token_endpoint_auth_methods_supported?.includes(method), method);
  });
});
