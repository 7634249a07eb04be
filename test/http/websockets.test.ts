import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { changeUserStatus } from '../../src/admin/user-admin.js';
import { NO_AUDIT_CONTEXT } from '../../src/audit/audit-event.js';
import { gatehouseSocket } from '../../src/http/gatehouse-socket.js';
import { addMember, createTenant, removeMember } from '../../src/tenants/tenant-admin.js';
import { PUBLIC } from '../../src/guard/requirement.js';
import { bearer, startTestApp, TEST_ISSUER, type TestApp } from '../support/test-app.js';
import { openSocket, opened, wsBase, type ClientSocket } from '../support/ws-client.js';

/**
 * WebSockets end to end over a real listening server and the `ws` client: POST /auth/ws-ticket,
 * the ticket scheme on the upgrade, per-message authorization, and open sockets following
 * revocation. Malicious cases first.
 */

const APP_ORIGIN = 'https://app.gatehouse.test';
const OTHER_TRUSTED_ORIGIN = 'https://admin.gatehouse.test';
const EVIL_ORIGIN = 'https://evil.example';
/** The issue's requirement: an open socket closes within this after a revocation anywhere. */
const CLOSE_LIMIT_MS = 1_000;
const OPERATOR = { userId: null, context: NO_AUDIT_CONTEXT };

/** The socket routes a host would declare: one plain, one closing on a refusal, one needing a role. */
async function socketRoutes(app: FastifyInstance): Promise<void> {
  const denyForbidden = (_p: unknown, message: string) => (message.startsWith('forbidden') ? 'deny' : 'allow');
  await gatehouseSocket<string>(app, '/ws/echo', {
    parse: (raw) => {
      if (typeof raw !== 'string') throw new TypeError('text only');
      return raw;
    },
    authorizeMessage: denyForbidden,
    onOpen: (connection) => connection.send(`hello ${connection.principal.user.username}`),
    onMessage: (connection, message) => connection.send(`echo ${message}`),
  });
  await gatehouseSocket<string>(app, '/ws/strict', {
    parse: (raw) => String(raw),
    authorizeMessage: denyForbidden,
    denyAction: 'close',
    onMessage: (connection, message) => connection.send(`echo ${message}`),
  });
  await gatehouseSocket(app, '/ws/admins', { auth: { roles: ['admin'] }, onMessage: () => undefined });
  await gatehouseSocket(app, '/ws/tenant', { auth: { tenant: true }, onMessage: () => undefined });
  // A plain route after @fastify/websocket: an upgrade to it is accepted, then closed (and logged) by the plugin.
  app.get('/plain', { config: { auth: PUBLIC } }, async () => ({ plain: true }));
}

/** Polls until `closed` settles; returns the close and how long it took from `since`. */
async function closeWithin(socket: ClientSocket, since: number): Promise<{ code: number; reason: string; ms: number }> {
  const timeout = new Promise<never>((_, reject) => setTimeout(() => reject(new Error('socket still open after 5 s')), 5_000).unref());
  const closed = await Promise.race([socket.closed, timeout]);
  return { ...closed, ms: performance.now() - since };
}

describe('WebSockets: tickets, the guarded upgrade, per-message authorization, revocation', () => {
  let t: TestApp;
  let base: string;
  let clock = Date.now();
  /** Every ticket issued here, to look for in the logs at the end. */
  const issued: string[] = [];

  const askTicket = (headers: Record<string, string>): Promise<LightMyRequestResponse> => t.inject({ method: 'POST', url: '/auth/ws-ticket', headers });
  const ticketFor = async (token: string, origin = APP_ORIGIN): Promise<string> => {
    const res = await askTicket({ ...bearer(token), origin });
    assert.equal(res.statusCode, 200, res.body);
    const ticket = res.json<{ ticket: string }>().ticket;
    issued.push(ticket);
    return ticket;
  };
  /** `origin` null: no Origin header at all. */
  const open = (path: string, ticket: string | undefined, origin: string | null = APP_ORIGIN) =>
    openSocket(`${base}${path}${ticket === undefined ? '' : `?ticket=${ticket}`}`, origin ?? undefined);
  const openWith = async (token: string, path = '/ws/echo'): Promise<ClientSocket> => {
    const socket = opened(await open(path, await ticketFor(token)));
    if (path === '/ws/echo') await socket.next(); // the hello
    return socket;
  };
  let users = 0;
  const newUser = async (): Promise<{ id: string; username: string; token: string }> => {
    const username = `ws-user-${++users}`;
    const { id } = await t.register(username);
    return { id, username, token: (await t.login(username)).access_token };
  };

  before(async () => {
    t = await startTestApp({
      env: { GATEHOUSE_ALLOWED_ORIGINS: `${APP_ORIGIN} ${OTHER_TRUSTED_ORIGIN}` },
      overrides: { now: () => clock },
      extraRoutes: socketRoutes,
    });
    base = await wsBase(t.app);
  });
  after(() => t.close());

  describe('malicious cases', () => {
    test('replay: the second upgrade with one ticket is refused (401), the first socket stays the only one', async () => {
      const { token } = await newUser();
      const ticket = await ticketFor(token);
      const first = opened(await open('/ws/echo', ticket));
      const second = await open('/ws/echo', ticket);
      assert.equal(second.kind, 'refused');
      assert.equal(second.status, 401);
      assert.match(second.body, /ERR_INVALID_TOKEN/);
      first.ws.close();
    });

    test('a ticket used from another trusted Origin is refused (403) and spent: not even its own Origin can use it after', async () => {
      const { token } = await newUser();
      const ticket = await ticketFor(token, APP_ORIGIN);
      const foreign = await open('/ws/echo', ticket, OTHER_TRUSTED_ORIGIN);
      assert.equal(foreign.kind === 'refused' && foreign.status, 403);
      const after = await open('/ws/echo', ticket, APP_ORIGIN);
      assert.equal(after.kind === 'refused' && after.status, 401);
    });

    test('cross-site WebSocket hijacking: an untrusted Origin, or none, is refused (403) before the ticket is spent', async () => {
      const { token } = await newUser();
      const ticket = await ticketFor(token);
      for (const origin of [EVIL_ORIGIN, 'null', null]) {
        const upgrade = await open('/ws/echo', ticket, origin);
        assert.equal(upgrade.kind === 'refused' && upgrade.status, 403, `${String(origin)}: ${upgrade.kind === 'refused' ? upgrade.body : 'opened'}`);
      }
      opened(await open('/ws/echo', ticket)).ws.close();
    });

    test('no ticket, a malformed one, an unknown one, a bearer token in its place: 401, no upgrade', async () => {
      const { token } = await newUser();
      for (const ticket of [undefined, 'nope', `ghw_${'A'.repeat(43)}`, token]) {
        const upgrade = await open('/ws/echo', ticket);
        assert.equal(upgrade.kind === 'refused' && upgrade.status, 401, String(ticket).slice(0, 10));
      }
      // Nor does an Authorization header open a ticket route (a browser cannot send one; the route accepts tickets only).
      const withHeader = await openSocket(`${base}/ws/echo`, APP_ORIGIN, bearer(token));
      assert.equal(withHeader.kind === 'refused' && withHeader.status, 401);
    });

    test('expired: a ticket 30 s old opens nothing', async () => {
      const { token } = await newUser();
      const ticket = await ticketFor(token);
      clock += 30_000;
      try {
        const upgrade = await open('/ws/echo', ticket);
        assert.equal(upgrade.kind === 'refused' && upgrade.status, 401);
      } finally {
        clock -= 30_000;
      }
    });

    test('after logout: a ticket issued before opens nothing', async () => {
      const { token } = await newUser();
      const ticket = await ticketFor(token);
      assert.equal((await t.inject({ method: 'POST', url: '/auth/logout', headers: bearer(token) })).statusCode, 204);
      const upgrade = await open('/ws/echo', ticket);
      assert.equal(upgrade.kind === 'refused' && upgrade.status, 401);
    });

    test("the route's requirement is checked before the upgrade: a missing role, a token bound to no tenant → 403, no socket", async () => {
      const { token } = await newUser();
      for (const path of ['/ws/admins', '/ws/tenant']) {
        const upgrade = await open(path, await ticketFor(token));
        assert.equal(upgrade.kind === 'refused' && upgrade.status, 403, path);
      }
    });

    test('a ticket on a plain request (no upgrade) is refused (400) and not spent', async () => {
      const { token } = await newUser();
      const ticket = await ticketFor(token);
      const res = await t.inject({ method: 'GET', url: `/ws/echo?ticket=${ticket}`, headers: { origin: APP_ORIGIN } });
      assert.equal(res.statusCode, 400, res.body);
      opened(await open('/ws/echo', ticket)).ws.close();
    });

    test('POST /auth/ws-ticket needs a trusted Origin (403 without or cross-site) and a credential (401)', async () => {
      const { token } = await newUser();
      assert.equal((await askTicket(bearer(token))).statusCode, 403);
      assert.equal((await askTicket({ ...bearer(token), origin: EVIL_ORIGIN })).statusCode, 403);
      assert.equal((await askTicket({ origin: APP_ORIGIN })).statusCode, 401);
    });

    test('a denied message gets an error frame and the socket stays open; with denyAction close, 1008', async () => {
      const { token } = await newUser();
      const socket = await openWith(token);
      socket.ws.send('forbidden words');
      assert.deepEqual(JSON.parse(await socket.next()), { type: 'error', code: 'ERR_FORBIDDEN', message: 'message refused' });
      socket.ws.send('kind words');
      assert.equal(await socket.next(), 'echo kind words');
      socket.ws.send(Buffer.from('binary'), { binary: true });
      assert.deepEqual(JSON.parse(await socket.next()), { type: 'error', code: 'ERR_VALIDATION', message: 'malformed message' });
      socket.ws.close();

      const strict = await openWith(token, '/ws/strict');
      strict.ws.send('hello');
      assert.equal(await strict.next(), 'echo hello');
      strict.ws.send('forbidden words');
      strict.ws.send('never handled');
      const closed = await strict.closed;
      assert.equal(closed.code, 1008);
      assert.deepEqual(strict.received, ['echo hello']);
    });
  });

  describe('open sockets follow revocation (4401 within 1 s)', () => {
    test('logout closes the socket of that session, not another session of the same user', async (ctx) => {
      const { username, token } = await newUser();
      const other = await openWith((await t.login(username)).access_token);
      const socket = await openWith(token);
      const start = performance.now();
      assert.equal((await t.inject({ method: 'POST', url: '/auth/logout', headers: bearer(token) })).statusCode, 204);
      const closed = await closeWithin(socket, start);
      ctx.diagnostic(`closed ${closed.ms.toFixed(1)} ms after the logout request`);
      assert.equal(closed.code, 4401);
      assert.equal(closed.reason, 'session ended');
      assert.ok(closed.ms < CLOSE_LIMIT_MS, `${closed.ms} ms`);
      other.ws.send('still here');
      assert.equal(await other.next(), 'echo still here');
      other.ws.close();
    });

    test('logout everywhere (token version) closes every socket of the user', async () => {
      const { username, token } = await newUser();
      const sockets = [await openWith(token), await openWith((await t.login(username)).access_token)];
      const start = performance.now();
      assert.equal((await t.inject({ method: 'POST', url: '/auth/logout-all', headers: bearer(token) })).statusCode, 204);
      for (const socket of sockets) {
        const closed = await closeWithin(socket, start);
        assert.equal(closed.code, 4401);
        assert.ok(closed.ms < CLOSE_LIMIT_MS, `${closed.ms} ms`);
      }
    });

    test('leaving the tenant closes the socket opened in it', async () => {
      const { id, username } = await newUser();
      const deps = { tenants: t.services.tenants, revocations: t.services.revocations, scopes: t.services.scopes, now: t.services.now };
      const slug = `ws-tenant-${users}`;
      await createTenant(deps, OPERATOR, { slug });
      await addMember(deps, OPERATOR, slug, id);
      const token = (await t.login(username, undefined, { tenant: slug })).access_token;
      const socket = opened(await open('/ws/tenant', await ticketFor(token)));
      const start = performance.now();
      await removeMember(deps, OPERATOR, slug, id);
      const closed = await closeWithin(socket, start);
      assert.equal(closed.code, 4401);
      assert.ok(closed.ms < CLOSE_LIMIT_MS, `${closed.ms} ms`);
    });

    test('a disabled account closes its sockets', async () => {
      const { id, token } = await newUser();
      const socket = await openWith(token);
      const start = performance.now();
      const deps = {
        directory: t.services.userDirectory,
        users: t.services.users,
        revocations: t.services.revocations,
        scopes: t.services.scopes,
        now: t.services.now,
      };
      await changeUserStatus(deps, OPERATOR, id, 'disable');
      const closed = await closeWithin(socket, start);
      assert.equal(closed.code, 4401);
      assert.ok(closed.ms < CLOSE_LIMIT_MS, `${closed.ms} ms`);
    });

    test('the session expiring closes the socket', async () => {
      const { token } = await newUser();
      const socket = await openWith(token);
      clock += t.services.config.sessionTtlSeconds * 1000;
      try {
        const closed = await closeWithin(socket, performance.now());
        assert.equal(closed.code, 4401);
        assert.equal(closed.reason, 'session expired');
      } finally {
        clock -= t.services.config.sessionTtlSeconds * 1000;
      }
    });
  });

  describe('a cookie session', () => {
    test('gets a ticket with the CSRF layers applied, and its socket closes at sign-out', async () => {
      const { username } = await newUser();
      const signIn = await t.inject({
        method: 'POST',
        url: '/auth/session',
        headers: { origin: TEST_ISSUER },
        payload: { username, password: 'correct horse battery staple' },
      });
      assert.equal(signIn.statusCode, 200, signIn.body);
      const cookie = String(signIn.headers['set-cookie']).split(';')[0]!;
      const crossSite = await askTicket({ cookie, origin: EVIL_ORIGIN, 'sec-fetch-site': 'cross-site' });
      assert.equal(crossSite.statusCode, 403);
      assert.match(crossSite.body, /ERR_CSRF/);
      // Same origin as the issuer: the CSRF layers admit nothing else with a cookie.
      const res = await askTicket({ cookie, origin: TEST_ISSUER, 'sec-fetch-site': 'same-origin' });
      assert.equal(res.statusCode, 200, res.body);
      const ticket = res.json<{ ticket: string }>().ticket;
      issued.push(ticket);
      const socket = opened(await open('/ws/echo', ticket, TEST_ISSUER));
      assert.equal(await socket.next(), `hello ${username}`);
      const start = performance.now();
      const out = await t.inject({ method: 'DELETE', url: '/auth/session', headers: { cookie, origin: TEST_ISSUER } });
      assert.ok(out.statusCode < 300, out.body);
      const closed = await closeWithin(socket, start);
      assert.equal(closed.code, 4401);
      assert.ok(closed.ms < CLOSE_LIMIT_MS, `${closed.ms} ms`);
    });
  });

  test('the ticket response: ghw_ + 43 base64url characters, expires_in 30, no-store', async () => {
    const { token } = await newUser();
    const res = await askTicket({ ...bearer(token), origin: APP_ORIGIN });
    assert.equal(res.statusCode, 200);
    const body = res.json<{ ticket: string; expires_in: number }>();
    issued.push(body.ticket);
    assert.deepEqual(Object.keys(body).sort(), ['expires_in', 'ticket']);
    assert.match(body.ticket, /^ghw_[A-Za-z0-9_-]{43}$/);
    assert.equal(body.expires_in, 30);
    assert.equal(res.headers['cache-control'], 'no-store');
  });

  test('an upgrade with a ticket to a route that is no socket (a public one) spends nothing and logs no ticket', async () => {
    const { token } = await newUser();
    const ticket = await ticketFor(token);
    for (const path of ['/health', '/plain']) {
      const upgrade = await open(path, ticket);
      if (upgrade.kind === 'open') await upgrade.socket.closed;
    }
    assert.ok(
      t.logs.lines.some((l) => l.includes('closed incoming websocket connection')),
      "the plugin's own log line",
    );
    opened(await open('/ws/echo', ticket)).ws.close();
  });

  test('no ticket appears in any log line (access lines of upgrades included)', () => {
    assert.ok(issued.length > 10, `${issued.length} tickets issued`);
    const lines = t.logs.lines;
    assert.ok(
      lines.some((l) => l.includes('/ws/echo')),
      'upgrades are logged',
    );
    for (const ticket of issued) {
      const secret = ticket.slice(4);
      const line = lines.find((l) => l.includes(secret));
      assert.equal(line, undefined, `a log line holds a ticket: ${line?.slice(0, 200)}`);
    }
  });
});
