import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { InvalidTokenError, StoreUnavailableError } from '../../src/errors/errors.js';
import type { ServiceEvent } from '../../src/observability/service-events.js';
import { createBrowserSessions, type BrowserSessionDeps } from '../../src/sessions/browser-sessions.js';
import { generateSessionCookie } from '../../src/sessions/session-cookie.js';
import type { CookieSessionRecord } from '../../src/sessions/session-store.js';
import type { UserRecord } from '../../src/users/user-store.js';

/**
 * The use cases' own rules with in-memory stand-ins: what the row cache may and may not do, and
 * the idle renewal. The HTTP tests (test/http/browser-session.test.ts) run them on real stores.
 */
const T0 = Date.parse('2030-06-01T00:00:00Z');
const MINUTE = 60_000;
const SESSION_ID = '0b8a9c59-3c3e-4f59-9a57-9e5d3c1f2a10';
const USER: UserRecord = Object.freeze({
  id: '5f2b0b8e-2d7c-4b7e-9a63-4e0f3c2a1b10',
  username: 'alice',
  usernameKey: 'alice',
  email: null,
  passwordHash: 'x',
  roles: ['user'],
  tokenVersion: 2,
  disabledAt: null,
  lockedAt: null,
  createdAt: new Date(0),
}) as unknown as UserRecord;

interface Harness {
  readonly deps: BrowserSessionDeps;
  readonly cookie: string;
  row: CookieSessionRecord;
  clock: number;
  readonly asked: unknown[];
  readonly touches: number[];
  readonly events: ServiceEvent[];
  reads: number;
  revoked: string | undefined;
  touchFails: boolean;
}

function harness(overrides: Partial<BrowserSessionDeps> = {}): Harness {
  const { value, secretDigest } = generateSessionCookie(SESSION_ID);
  const h: Harness = {
    cookie: value,
    row: {
      id: SESSION_ID,
      kind: 'cookie',
      userId: USER.id,
      clientId: 'gatehouse-web',
      tenantId: null,
      scope: 'profile',
      resource: null,
      device: 'test',
      ip: null,
      createdAt: new Date(T0),
      lastUsedAt: new Date(T0),
      expiresAt: new Date(T0 + 120 * MINUTE),
      idleExpiresAt: new Date(T0 + 30 * MINUTE),
      authMethods: ['pwd'],
      authTime: new Date(0),
      revokedAt: null,
      revokedReason: null,
      secretDigest,
      tokenVersion: 2,
    },
    clock: T0,
    asked: [],
    touches: [],
    events: [],
    reads: 0,
    revoked: undefined,
    touchFails: false,
    deps: undefined as unknown as BrowserSessionDeps,
  };
  (h as { deps: BrowserSessionDeps }).deps = {
    sessions: {
      createCookieSession: async () => {
        throw new Error('not used');
      },
      findCookieSession: async (id) => {
        h.reads++;
        return id === h.row.id ? { ...h.row } : undefined;
      },
      touchIdle: async (_id, now, idleExpiresAt) => {
        h.touches.push(now.getTime());
        // One turn of the event loop, as a real store answers: concurrent requests overlap it.
        await new Promise((r) => setImmediate(r));
        if (h.touchFails) throw new StoreUnavailableError('database did not answer');
        if (h.row.revokedAt !== null) return false;
        h.row = { ...h.row, lastUsedAt: now, idleExpiresAt };
        return true;
      },
    },
    revocations: {
      assertNotRevoked: (claims) => {
        h.asked.push(claims);
        if (h.revoked !== undefined) throw new InvalidTokenError(h.revoked);
      },
      revokeSession: async () => true,
    },
    users: { findById: async (id) => (id === USER.id ? USER : undefined) },
    tenants: { membershipsOfUser: async () => [], membership: async () => undefined },
    scopes: { scopesForRoles: () => new Set(['profile']) },
    verifyPassword: async () => USER,
    challengeSecondFactor: async () => {},
    recordAudit: async () => {},
    policy: { absoluteTtlMs: 120 * MINUTE, idleTtlMs: 30 * MINUTE },
    clientId: 'gatehouse-web',
    accessTokenTtlMs: 15 * MINUTE,
    now: () => h.clock,
    events: { emit: (event) => h.events.push(event) },
    ...overrides,
  };
  return h;
}

/** An InvalidTokenError whose log reason (never the client's message) matches. */
const refusedFor =
  (reason: RegExp) =>
  (error: unknown): boolean =>
    error instanceof InvalidTokenError && reason.test(error.logReason ?? '');

describe('browser sessions: authenticate', () => {
  test('malicious: a cached row is no shortcut past the revocation list — it is asked on every request with sid, sub and tver', async () => {
    const h = harness();
    const sessions = createBrowserSessions(h.deps);
    await sessions.authenticate(h.cookie);
    await sessions.authenticate(h.cookie);
    assert.equal(h.reads, 1, 'the second request is served from the cache');
    assert.equal(h.asked.length, 2);
    for (const claims of h.asked) {
      assert.deepEqual(claims, { jti: `cookie-session:${SESSION_ID}`, sid: SESSION_ID, sub: USER.id, tver: 2 });
    }
    h.revoked = 'session revoked';
    await assert.rejects(sessions.authenticate(h.cookie), InvalidTokenError);
  });

  test('malicious: fails closed when the revocation state is not current, cached row or not', async () => {
    const h = harness();
    const sessions = createBrowserSessions({
      ...h.deps,
      revocations: {
        ...h.deps.revocations,
        assertNotRevoked: () => {
          throw new StoreUnavailableError('feed unconfirmed');
        },
      },
    });
    await assert.rejects(sessions.authenticate(h.cookie), StoreUnavailableError);
  });

  test('the cache lives at most min(60 s, access-token TTL): a change no revocation entry announces is read after it', async () => {
    for (const [ttl, within] of [
      [15 * MINUTE, 59_000],
      [30_000, 29_000],
    ] as const) {
      const h = harness({ accessTokenTtlMs: ttl });
      const sessions = createBrowserSessions(h.deps);
      await sessions.authenticate(h.cookie);
      h.row = { ...h.row, revokedAt: new Date(h.clock), revokedReason: 'test' };
      h.clock += within;
      await sessions.authenticate(h.cookie);
      h.clock += 1_000;
      await assert.rejects(sessions.authenticate(h.cookie), refusedFor(/revoked \(test\)/));
    }
  });

  test('a wrong secret, a token version moved on and an unknown user are refused, each naming its check', async () => {
    const h = harness();
    const sessions = createBrowserSessions(h.deps);
    await assert.rejects(sessions.authenticate(`${SESSION_ID}.${'A'.repeat(43)}`), refusedFor(/^wrong secret$/));
    const moved = harness({ users: { findById: async () => ({ ...USER, tokenVersion: 3 }) } });
    await assert.rejects(createBrowserSessions(moved.deps).authenticate(moved.cookie), refusedFor(/token version moved/));
    const gone = harness({ users: { findById: async () => undefined } });
    await assert.rejects(createBrowserSessions(gone.deps).authenticate(gone.cookie), refusedFor(/no longer exists/));
    for (const error of [moved, gone]) assert.equal(error.events.length, 0);
  });

  test('idle renewal: at most one write per 5 minutes, shared by concurrent requests; a failed write is reported, not dropped', async () => {
    const h = harness();
    const sessions = createBrowserSessions(h.deps);
    h.clock += 4 * MINUTE;
    await sessions.authenticate(h.cookie);
    assert.deepEqual(h.touches, []);
    h.clock += MINUTE;
    await Promise.all(Array.from({ length: 5 }, () => sessions.authenticate(h.cookie)));
    assert.deepEqual(h.touches, [T0 + 5 * MINUTE], 'one write for five concurrent requests');
    h.clock += 4 * MINUTE;
    await sessions.authenticate(h.cookie);
    assert.equal(h.touches.length, 1);

    h.clock += MINUTE;
    h.touchFails = true;
    const principal = await sessions.authenticate(h.cookie);
    assert.equal(principal.sessionId, SESSION_ID, 'the session is live: a failed renewal costs only idle time');
    assert.equal(h.events[0]?.event, 'sessions.idle_renewal_failed');
    assert.equal(h.events[0]?.level, 'warn');
  });

  test('a session revoked before its renewal is refused at the renewal', async () => {
    const h = harness();
    const sessions = createBrowserSessions(h.deps);
    // Read 4.5 minutes in (no renewal yet), revoked where no list entry announces it, then the
    // renewal falls due while the row is still cached: the conditional write refuses it.
    h.clock += 4.5 * MINUTE;
    await sessions.authenticate(h.cookie);
    h.row = { ...h.row, revokedAt: new Date(h.clock), revokedReason: 'elsewhere' };
    h.clock += 0.5 * MINUTE;
    await assert.rejects(sessions.authenticate(h.cookie), refusedFor(/revoked before its idle renewal/));
    assert.equal(h.reads, 1, 'served from the cache until the renewal');
  });

  test('the principal is reused while the row and the user record are the same; a new user record (a role granted) gives a new one', async () => {
    let user: UserRecord = USER;
    const h = harness({ users: { findById: async (id) => (id === USER.id ? user : undefined) } });
    const sessions = createBrowserSessions(h.deps);
    const first = await sessions.authenticate(h.cookie);
    assert.equal(await sessions.authenticate(h.cookie), first);
    user = { ...USER, roles: [...USER.roles, 'admin'] };
    const after = await sessions.authenticate(h.cookie);
    assert.notEqual(after, first);
    assert.ok(after.roles.includes('admin'));
    // Still checked on every request, reused principal or not.
    h.revoked = 'session revoked';
    await assert.rejects(sessions.authenticate(h.cookie), InvalidTokenError);
  });

  test('the principal: via session, the session scopes, global roles, the expiry in seconds', async () => {
    const h = harness();
    const principal = await createBrowserSessions(h.deps).authenticate(h.cookie);
    assert.equal(principal.via, 'session');
    assert.deepEqual([...principal.scopes], ['profile']);
    assert.deepEqual(principal.roles, ['user']);
    assert.equal(principal.tokenVersion, 2);
    assert.equal(principal.expiresAt, (T0 + 120 * MINUTE) / 1000);
    assert.equal(principal.tenantId, undefined);
    assert.ok(!JSON.stringify(principal).includes(h.row.secretDigest));
  });
});
