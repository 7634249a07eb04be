import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, test } from 'node:test';
import { ForbiddenError, InvalidTokenError, StoreUnavailableError } from '../../src/errors/errors.js';
import type { BearerPrincipal, SessionPrincipal } from '../../src/guard/principal.js';
import type { SessionRecord } from '../../src/sessions/session-store.js';
import type { EphemeralStore } from '../../src/stores/ephemeral/ephemeral-store.js';
import { createMemoryStore } from '../../src/stores/ephemeral/memory-store.js';
import { createWsTickets, TICKET_LIFETIME_MS, type WsTicketDeps } from '../../src/sockets/ws-tickets.js';
import type { UserRecord } from '../../src/users/user-store.js';

const ORIGIN = 'https://app.example.test';
const T0 = 1_700_000_000_000;

/** The core on a memory store and a clock, with the account, session and revocation state in plain maps. */
function harness(options: { store?: (inner: EphemeralStore) => WsTicketDeps['store'] } = {}) {
  let t = T0;
  const now = () => t;
  const memory = createMemoryStore({ now });
  const userId = randomUUID();
  const sessionId = randomUUID();
  const users = new Map<string, UserRecord>([
    [
      userId,
      {
        id: userId,
        kind: 'person',
        username: 'alice',
        email: null,
        emailVerifiedAt: null,
        passwordHash: 'secret-hash',
        roles: [],
        disabledAt: null,
        lockedAt: null,
        tokenVersion: 0,
        createdAt: new Date(0),
      },
    ],
  ]);
  const sessions = new Map<string, Pick<SessionRecord, 'expiresAt' | 'revokedAt'>>([[sessionId, { expiresAt: new Date(T0 + 3_600_000), revokedAt: null }]]);
  const revokedSessions = new Set<string>();
  let revocationsCurrent = true;
  const deps: WsTicketDeps = {
    store: options.store?.(memory) ?? memory,
    revocations: {
      assertNotRevoked(claims) {
        if (!revocationsCurrent) throw new StoreUnavailableError('revocation state is not current');
        if (claims.sid !== undefined && revokedSessions.has(claims.sid)) throw new InvalidTokenError('session revoked');
      },
    },
    users: { findById: async (id) => users.get(id) },
    sessions: { find: async (id) => sessions.get(id) as SessionRecord | undefined },
    now,
  };
  const bearer = (overrides: Partial<BearerPrincipal> = {}): BearerPrincipal =>
    ({
      via: 'bearer',
      subject: userId,
      scopes: new Set(['profile', 'chat:send']),
      roles: ['member'],
      tenantId: randomUUID(),
      sessionId,
      clientId: 'gatehouse-cli',
      tokenId: randomUUID(),
      expiresAt: Math.floor(T0 / 1000) + 900,
      tokenVersion: 0,
      user: { id: userId, username: 'alice', email: null, emailVerified: false, roles: [], createdAt: new Date(0) },
      claims: {} as BearerPrincipal['claims'],
      ...overrides,
    }) as BearerPrincipal;
  return {
    tickets: createWsTickets(deps),
    deps,
    memory,
    userId,
    sessionId,
    bearer,
    advance: (ms: number) => void (t += ms),
    setUser: (change: Partial<UserRecord>) => users.set(userId, { ...users.get(userId)!, ...change }),
    deleteUser: () => users.delete(userId),
    revokeSession: () => revokedSessions.add(sessionId),
    endSessionRow: () => sessions.set(sessionId, { expiresAt: new Date(T0 + 3_600_000), revokedAt: new Date(t) }),
    setSessionExpiry: (at: number) => sessions.set(sessionId, { expiresAt: new Date(at), revokedAt: null }),
    staleRevocations: () => void (revocationsCurrent = false),
  };
}

describe('WebSocket tickets: malicious cases', () => {
  test('replay: a ticket opens once; the second redeem is refused', async () => {
    const h = harness();
    const { ticket } = await h.tickets.issue(h.bearer(), ORIGIN);
    const principal = await h.tickets.redeem(ticket, ORIGIN);
    assert.equal(principal.via, 'ticket');
    await assert.rejects(h.tickets.redeem(ticket, ORIGIN), InvalidTokenError);
  });

  test('a ticket presented from another Origin is refused, and spent', async () => {
    const h = harness();
    const { ticket } = await h.tickets.issue(h.bearer(), ORIGIN);
    await assert.rejects(h.tickets.redeem(ticket, 'https://evil.example.test'), ForbiddenError);
    await assert.rejects(h.tickets.redeem(ticket, ORIGIN), InvalidTokenError, 'the attempt burnt it');
  });

  test('a ticket presented with no Origin is refused', async () => {
    const h = harness();
    const { ticket } = await h.tickets.issue(h.bearer(), ORIGIN);
    await assert.rejects(h.tickets.redeem(ticket, undefined), ForbiddenError);
  });

  test('expired: refused after 30 s, even by a store that kept it longer', async () => {
    // The store keeps everything an hour: the binding's own expiry is what refuses.
    const h = harness({ store: (inner) => ({ set: (key, value) => inner.set(key, value, 3_600_000), take: (key) => inner.take(key) }) });
    const { ticket, expiresIn } = await h.tickets.issue(h.bearer(), ORIGIN);
    assert.equal(expiresIn, 30);
    h.advance(TICKET_LIFETIME_MS);
    await assert.rejects(h.tickets.redeem(ticket, ORIGIN), InvalidTokenError);
  });

  test('expired in the store: gone', async () => {
    const h = harness();
    const { ticket } = await h.tickets.issue(h.bearer(), ORIGIN);
    h.advance(TICKET_LIFETIME_MS);
    await assert.rejects(h.tickets.redeem(ticket, ORIGIN), InvalidTokenError);
  });

  test('after logout (the session revoked): refused', async () => {
    const h = harness();
    const { ticket } = await h.tickets.issue(h.bearer(), ORIGIN);
    h.revokeSession();
    await assert.rejects(h.tickets.redeem(ticket, ORIGIN), InvalidTokenError);
  });

  test('the account changed since the ticket: token version moved, disabled, locked, deleted: each refused', async () => {
    const changes: [string, (h: ReturnType<typeof harness>) => void][] = [
      ['token version', (h) => h.setUser({ tokenVersion: 1 })],
      ['disabled', (h) => h.setUser({ disabledAt: new Date(T0) })],
      ['locked', (h) => h.setUser({ lockedAt: new Date(T0) })],
      ['deleted', (h) => h.deleteUser()],
    ];
    for (const [label, change] of changes) {
      const h = harness();
      const { ticket } = await h.tickets.issue(h.bearer(), ORIGIN);
      change(h);
      await assert.rejects(h.tickets.redeem(ticket, ORIGIN), InvalidTokenError, label);
    }
  });

  test('fail closed: a revocation state that is not current refuses the redeem (503), not admits it', async () => {
    const h = harness();
    const { ticket } = await h.tickets.issue(h.bearer(), ORIGIN);
    h.staleRevocations();
    await assert.rejects(h.tickets.redeem(ticket, ORIGIN), StoreUnavailableError);
  });

  test('two instances on one store racing 20 redeems of one ticket: exactly one principal', async () => {
    const h = harness();
    const other = createWsTickets(h.deps);
    const { ticket } = await h.tickets.issue(h.bearer(), ORIGIN);
    const results = await Promise.allSettled(Array.from({ length: 20 }, (_, i) => (i % 2 === 0 ? h.tickets : other).redeem(ticket, ORIGIN)));
    assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1);
    for (const r of results) if (r.status === 'rejected') assert.ok(r.reason instanceof InvalidTokenError);
  });

  test('a token that expires in 10 s gets a ticket of 10 s, no longer', async () => {
    const h = harness();
    const { ticket, expiresIn } = await h.tickets.issue(h.bearer({ expiresAt: Math.floor(T0 / 1000) + 10 }), ORIGIN);
    assert.equal(expiresIn, 10);
    h.advance(10_000);
    await assert.rejects(h.tickets.redeem(ticket, ORIGIN), InvalidTokenError);
  });

  test("a bearer token's session that ends in 5 s bounds the ticket to 5 s; one that has ended gives none", async () => {
    const h = harness();
    h.setSessionExpiry(T0 + 5_000);
    assert.equal((await h.tickets.issue(h.bearer(), ORIGIN)).expiresIn, 5);
    h.endSessionRow();
    await assert.rejects(h.tickets.issue(h.bearer(), ORIGIN), InvalidTokenError);
  });

  test('a credential expiring within a second gets no ticket', async () => {
    const h = harness();
    await assert.rejects(h.tickets.issue(h.bearer({ expiresAt: Math.floor(T0 / 1000) }), ORIGIN), InvalidTokenError);
  });

  test('a cookie session: the ticket never outlives the session, and the socket principal carries its expiry', async () => {
    const h = harness();
    const session: SessionPrincipal = {
      via: 'session',
      subject: h.userId,
      scopes: new Set(['profile']),
      roles: [],
      sessionId: h.sessionId,
      clientId: 'gatehouse-browser',
      tokenVersion: 0,
      expiresAt: Math.floor(T0 / 1000) + 20,
      user: { id: h.userId, username: 'alice', email: null, emailVerified: false, roles: [], createdAt: new Date(0) },
    };
    const { ticket, expiresIn } = await h.tickets.issue(session, ORIGIN);
    assert.equal(expiresIn, 20);
    const principal = await h.tickets.redeem(ticket, ORIGIN);
    assert.equal(principal.ticketFrom, 'session');
    assert.equal(principal.expiresAt, Math.floor(T0 / 1000) + 20);
    assert.equal(principal.tokenId, undefined);
  });

  test('malformed tickets are refused without asking the store', async () => {
    let takes = 0;
    const h = harness({ store: (inner) => ({ set: (k, v, ttl) => inner.set(k, v, ttl), take: (k) => (takes++, inner.take(k)) }) });
    for (const bad of ['', 'ghw_', 'ghw_short', `ghk_${'a'.repeat(43)}`, `ghw_${'a'.repeat(42)}=`, `ghw_${'a'.repeat(44)}`, `ghw_${'a'.repeat(42)}/`]) {
      await assert.rejects(h.tickets.redeem(bad, ORIGIN), InvalidTokenError, JSON.stringify(bad));
    }
    assert.equal(takes, 0);
  });
});

describe('WebSocket tickets: what is issued and stored', () => {
  test('ghw_ + 256 random bits in base64url; the store keeps only a digest as the key, never the ticket', async () => {
    const written: { key: string; value: string }[] = [];
    const h = harness({
      store: (inner) => ({ set: (key, value, ttl) => (written.push({ key, value }), inner.set(key, value, ttl)), take: (k) => inner.take(k) }),
    });
    const issued = await Promise.all(Array.from({ length: 5 }, () => h.tickets.issue(h.bearer(), ORIGIN)));
    for (const { ticket } of issued) assert.match(ticket, /^ghw_[A-Za-z0-9_-]{43}$/);
    assert.equal(new Set(issued.map((i) => i.ticket)).size, 5);
    for (const { key, value } of written) {
      for (const { ticket } of issued) {
        assert.ok(!key.includes(ticket.slice(4)) && !value.includes(ticket.slice(4)), 'no ticket in the store');
      }
    }
  });

  test('the principal is the binding: user, session, tenant, scopes, roles, token id, origin; the account view has no hash', async () => {
    const h = harness();
    const bearer = h.bearer();
    const { ticket } = await h.tickets.issue(bearer, ORIGIN);
    const principal = await h.tickets.redeem(ticket, ORIGIN);
    assert.equal(principal.subject, h.userId);
    assert.equal(principal.sessionId, h.sessionId);
    assert.equal(principal.tenantId, bearer.tenantId);
    assert.deepEqual([...principal.scopes].sort(), ['chat:send', 'profile']);
    assert.deepEqual(principal.roles, ['member']);
    assert.equal(principal.tokenId, bearer.tokenId);
    assert.equal(principal.origin, ORIGIN);
    assert.equal(principal.ticketFrom, 'bearer');
    assert.equal(principal.expiresAt, Math.floor((T0 + 3_600_000) / 1000), "the session's absolute expiry");
    assert.ok(!JSON.stringify(principal.user).includes('secret-hash'));
  });
});
