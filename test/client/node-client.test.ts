import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { GatehouseClient, GatehouseClientError, type ClientEvent } from '@gatehouse/client';
import { AUTHENTICATED, PUBLIC } from '../../src/guard/requirement.js';
import { startListeningGatehouse, type ListeningGatehouse } from '../support/browser-gatehouse.js';
import { bearer, TEST_PASSWORD } from '../support/test-app.js';

/** Past the access tokens' lifetime (GATEHOUSE_ACCESS_TOKEN_TTL=60) and the 5 s leeway: the server's clock jumps, the client's does not. */
const PAST_EXPIRY_MS = 70_000;

describe('@gatehouse/client in Node against a running Gatehouse', () => {
  let gatehouse: ListeningGatehouse;
  let offset = 0;
  let users = 0;
  let ownRefusals = 0;
  const requests: string[] = [];
  /** The real fetch, counting what reaches the server by path. */
  const countingFetch: typeof fetch = (input, init) => {
    requests.push(new URL(input instanceof Request ? input.url : String(input)).pathname);
    return fetch(input, init);
  };
  const count = (path: string) => requests.filter((p) => p === path).length;
  const freshClient = async (options: Partial<ConstructorParameters<typeof GatehouseClient>[0]> = {}) => {
    const username = `node-client-${++users}`;
    await gatehouse.t.register(username);
    const client = new GatehouseClient({ baseUrl: gatehouse.base, fetch: countingFetch, proactiveRefresh: false, ...options });
    await client.signIn({ username, password: TEST_PASSWORD });
    requests.length = 0;
    return { client, username };
  };
  const events = (client: GatehouseClient, name: ClientEvent) => {
    const seen = { count: 0 };
    client.on(name, () => seen.count++);
    return seen;
  };

  before(async () => {
    gatehouse = await startListeningGatehouse({
      env: { GATEHOUSE_ACCESS_TOKEN_TTL: '60' },
      overrides: { now: () => Date.now() + offset },
      extraRoutes: (app) => {
        // An API that refuses for its own reasons: a 401 whatever the token.
        app.get('/test/own-401', { config: { auth: AUTHENTICATED } }, async (_request, reply) => {
          ownRefusals++;
          return reply.code(401).send({ reason: 'this API says no' });
        });
        app.get('/test/echo-authorization', { config: { auth: PUBLIC } }, async (request) => ({ authorization: request.headers.authorization ?? null }));
      },
    });
  });
  after(() => gatehouse.close());

  describe('malicious and failure cases first', () => {
    test('an API answering 401 for its own reasons: one refresh, one retry, then its 401 is returned (no loop)', async () => {
      const { client } = await freshClient();
      ownRefusals = 0;
      const response = await client.fetch(`${gatehouse.base}/test/own-401`);
      assert.equal(response.status, 401);
      assert.deepEqual(await response.json(), { reason: 'this API says no' });
      assert.equal(ownRefusals, 2, 'the API was asked twice: before and after the refresh');
      assert.equal(count('/auth/refresh'), 1, 'exactly one refresh');
      assert.equal(client.signedIn, true, "the API's 401 does not sign out");
    });

    test('a failed refresh (the session revoked elsewhere): exactly one signed-out event and one refresh for 10 concurrent calls', async () => {
      const { client } = await freshClient();
      const signedOut = events(client, 'signed-out');
      const token = (await (await client.fetch(`${gatehouse.base}/test/echo-authorization`)).json()) as { authorization: string };
      const logout = await gatehouse.t.inject({ method: 'POST', url: '/auth/logout', headers: { authorization: token.authorization } });
      assert.equal(logout.statusCode, 204);
      requests.length = 0;
      const answers = await Promise.all(Array.from({ length: 10 }, () => client.fetch(`${gatehouse.base}/me`)));
      assert.deepEqual(
        answers.map((r) => r.status),
        Array(10).fill(401),
      );
      assert.equal(count('/auth/refresh'), 1, 'one refresh attempt for all of them');
      assert.equal(signedOut.count, 1, 'exactly one signed-out event');
      assert.equal(client.signedIn, false);
      // Signed out: later calls go out without a token and without another refresh.
      assert.equal((await client.fetch(`${gatehouse.base}/me`)).status, 401);
      assert.equal(count('/auth/refresh'), 1);
      assert.equal(signedOut.count, 1);
    });

    test('a wrong password: GatehouseClientError 401 with the stable code, nothing held', async () => {
      await gatehouse.t.register('node-client-wrong');
      const client = new GatehouseClient({ baseUrl: gatehouse.base, proactiveRefresh: false });
      await assert.rejects(
        client.signIn({ username: 'node-client-wrong', password: 'not the passphrase at all' }),
        (error: unknown) => error instanceof GatehouseClientError && error.status === 401 && typeof error.code === 'string',
      );
      assert.equal(client.signedIn, false);
    });
  });

  test('access tokens expired on the server: 10 concurrent calls, exactly one rotation, all succeed', async () => {
    const { client, username } = await freshClient();
    const refreshed = events(client, 'refreshed');
    offset += PAST_EXPIRY_MS;
    const answers = await Promise.all(Array.from({ length: 10 }, () => client.me()));
    assert.ok(answers.every((me) => me.username === username));
    assert.equal(count('/auth/refresh'), 1, 'single flight within the process');
    assert.equal(refreshed.count, 1);
    assert.equal(count('/me'), 20, 'each call: the 401, then the retry');
  });

  test('me, sessions, changePassword and signOut against the real server', async () => {
    const { client, username } = await freshClient();
    assert.equal((await client.me()).username, username);
    const sessions = await client.sessions();
    assert.equal(sessions.length, 1);
    assert.equal(sessions[0]?.current, true);
    await client.changePassword({ current_password: TEST_PASSWORD, new_password: 'a brand new passphrase for this user' });
    assert.equal((await client.me()).username, username, 'this session stays signed in');
    const signedOut = events(client, 'signed-out');
    await client.signOut();
    assert.equal(signedOut.count, 1);
    assert.equal(client.signedIn, false);
    assert.equal(await client.refresh(), undefined, 'nothing left to refresh');
    assert.equal(count('/auth/logout'), 1);
  });

  test('the wrapper attaches the token and keeps the caller’s headers', async () => {
    const { client } = await freshClient();
    const echo = (await (await client.fetch(`${gatehouse.base}/test/echo-authorization`, { headers: { 'x-app': 'yes' } })).json()) as {
      authorization: string;
    };
    assert.match(echo.authorization, /^Bearer ey/);
    const me = await gatehouse.t.inject({ method: 'GET', url: '/me', headers: bearer(echo.authorization.slice('Bearer '.length)) });
    assert.equal(me.statusCode, 200);
  });

  test('proactive refresh before expiry (the server rotates without any 401)', async () => {
    const { client } = await freshClient({ proactiveRefresh: true, refreshAheadMs: 60_000, refreshJitterMs: 0 });
    await new Promise<void>((resolve) => client.on('refreshed', resolve));
    assert.equal(count('/auth/refresh'), 1);
    client.close();
  });
});
