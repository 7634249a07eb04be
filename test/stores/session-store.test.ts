import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { asc, eq } from 'drizzle-orm';
import { digestRefreshToken, generateRefreshToken } from '../../src/sessions/refresh-token.js';
import type { NewSession, RotationOutcome, SessionStore } from '../../src/sessions/session-store.js';
import { createDrizzleSessionStore } from '../../src/stores/db/drizzle-session-store.js';
import { refreshTokens, sessions } from '../../src/stores/db/schema.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

const T0 = Date.parse('2030-06-01T00:00:00Z');
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const IDLE = 10 * MINUTE;
const CLIENT = 'gatehouse-cli';

const digest = (): string => digestRefreshToken(generateRefreshToken());

/**
 * The SessionStore contract, run against createDrizzleSessionStore on this pass's database
 * (PGlite in the embedded pass, PostgreSQL in the real one).
 */
describe('SessionStore contract (drizzle)', () => {
  let t: TestApp;
  let store: SessionStore;
  let userId: string;

  /** A session created at T0 (absolute 1 h, idle 10 min unless given) with a known first digest. */
  const newSession = async (overrides: Partial<NewSession> = {}): Promise<{ session: NewSession; first: string }> => {
    const session: NewSession = {
      id: randomUUID(),
      userId,
      clientId: CLIENT,
      tenantId: null,
      scope: 'profile',
      resource: null,
      device: 'Firefox on Linux',
      ip: '192.0.2.1',
      createdAt: new Date(T0),
      lastUsedAt: new Date(T0),
      expiresAt: new Date(T0 + HOUR),
      idleExpiresAt: new Date(T0 + IDLE),
      authMethods: ['pwd'],
      authTime: new Date(0),
      ...overrides,
    };
    const first = digest();
    await store.create(session, first);
    return { session, first };
  };

  const rotate = (presented: string, nextDigest: string, at: number, clientId = CLIENT): Promise<RotationOutcome> =>
    store.rotate({ digest: presented, nextDigest, clientId, requestedScopes: [], now: new Date(at), idleTtlMs: IDLE });

  const rows = (sessionId: string) =>
    t.services.database.db.select().from(refreshTokens).where(eq(refreshTokens.sessionId, sessionId)).orderBy(asc(refreshTokens.generation));

  before(async () => {
    t = await startTestApp();
    // Built directly, so the contract is tested on the store itself and not on what services wires.
    store = createDrizzleSessionStore(t.services.database.db);
    userId = (await t.register('store-user')).id;
  });
  after(() => t.close());

  test('create stores the session and generation 0', async () => {
    const { session, first } = await newSession();
    const found = await store.find(session.id);
    assert.deepEqual(found, { ...session, kind: 'refresh', revokedAt: null, revokedReason: null });
    assert.deepEqual(
      (await rows(session.id)).map((r) => [r.digest, r.generation, r.spentAt]),
      [[first, 0, null]],
    );
  });

  test('create answers the session as find reads it, and writes its audit rows in the same statement', async () => {
    const id = randomUUID();
    const session: NewSession = {
      id,
      userId,
      clientId: CLIENT,
      tenantId: null,
      scope: 'profile',
      resource: 'https://api.example.test',
      device: 'bench',
      ip: null,
      createdAt: new Date(T0),
      lastUsedAt: new Date(T0),
      expiresAt: new Date(T0 + HOUR),
      idleExpiresAt: new Date(T0 + IDLE),
      authMethods: ['hwk', 'user'],
      authTime: new Date(T0 - MINUTE),
    };
    const audit = [0, 1].map((i) => ({
      occurredAt: new Date(T0 + i),
      event: 'login.succeeded' as const,
      outcome: 'success' as const,
      reason: null,
      actorId: userId,
      subjectId: userId,
      sessionId: id,
      ip: '192.0.2.7',
      userAgent: `agent ${i}`,
      requestId: `req-${i}`,
    }));
    const created = await store.create(session, digest(), audit);
    assert.deepEqual(created, await store.find(id));
    const written = (await t.services.audit.list({ subjectId: userId, limit: 50 })).filter((r) => r.sessionId === id);
    assert.deepEqual(
      written.map((r) => String(r.userAgent)).sort((a, b) => a.localeCompare(b)),
      ['agent 0', 'agent 1'],
    );
    // A first token that collides with an existing one fails the whole statement: no session, no audit row.
    const taken = (await rows(id))[0]!.digest;
    const other = randomUUID();
    await assert.rejects(store.create({ ...session, id: other }, taken, [{ ...audit[0]!, sessionId: other }]));
    assert.equal(await store.find(other), undefined);
    assert.equal((await t.services.audit.list({ subjectId: userId, limit: 50 })).filter((r) => r.sessionId === other).length, 0);
  });

  describe('rotate', () => {
    test('unknown digest → unknown, nothing written', async () => {
      const next = digest();
      assert.deepEqual(await rotate(digest(), next, T0), { kind: 'unknown' });
      assert.equal((await t.services.database.db.select().from(refreshTokens).where(eq(refreshTokens.digest, next))).length, 0);
    });

    test('live token → rotated: old spent, successor at generation 1, idle window moved, last use recorded', async () => {
      const { session, first } = await newSession();
      const next = digest();
      const at = T0 + 5 * MINUTE;
      const outcome = await rotate(first, next, at);
      assert.equal(outcome.kind, 'rotated');
      assert.equal(outcome.generation, 1);
      assert.equal(outcome.session.id, session.id);
      assert.equal(outcome.session.lastUsedAt.getTime(), at);
      assert.equal(outcome.session.idleExpiresAt.getTime(), at + IDLE);
      assert.deepEqual(
        (await rows(session.id)).map((r) => [r.digest, r.generation, r.spentAt?.getTime() ?? null]),
        [
          [first, 0, at],
          [next, 1, null],
        ],
      );
    });

    test('the idle window is capped at the absolute expiry', async () => {
      const { session, first } = await newSession({ idleExpiresAt: new Date(T0 + HOUR) });
      const at = T0 + HOUR - MINUTE;
      const outcome = await rotate(first, digest(), at);
      assert.equal(outcome.kind, 'rotated');
      assert.equal(outcome.session.idleExpiresAt.getTime(), session.expiresAt.getTime());
    });

    test('spent token → reused, and no second successor', async () => {
      const { session, first } = await newSession();
      assert.equal((await rotate(first, digest(), T0 + MINUTE)).kind, 'rotated');
      const again = digest();
      const outcome = await rotate(first, again, T0 + 2 * MINUTE);
      assert.equal(outcome.kind, 'reused');
      assert.equal(outcome.session.id, session.id);
      assert.deepEqual(
        (await rows(session.id)).map((r) => r.generation),
        [0, 1],
      );
      assert.ok(!(await rows(session.id)).some((r) => r.digest === again));
    });

    test('a spent token presented by another client is still reuse: a thief switching client_id raises the alarm', async () => {
      const { first } = await newSession();
      assert.equal((await rotate(first, digest(), T0 + MINUTE)).kind, 'rotated');
      assert.equal((await rotate(first, digest(), T0 + 2 * MINUTE, 'other-app')).kind, 'reused');
    });

    test('asking for a scope the session lacks → scope_exceeded, and the token stays unspent', async () => {
      const { session, first } = await newSession();
      const outcome = await store.rotate({
        digest: first,
        nextDigest: digest(),
        clientId: CLIENT,
        requestedScopes: ['admin:users'],
        now: new Date(T0 + MINUTE),
        idleTtlMs: IDLE,
      });
      assert.equal(outcome.kind, 'scope_exceeded');
      assert.deepEqual(
        (await rows(session.id)).map((r) => [r.generation, r.spentAt]),
        [[0, null]],
      );
      const narrowed = await store.rotate({
        digest: first,
        nextDigest: digest(),
        clientId: CLIENT,
        requestedScopes: ['profile'],
        now: new Date(T0 + MINUTE),
        idleTtlMs: IDLE,
      });
      assert.equal(narrowed.kind, 'rotated');
    });

    test("malicious: naming a resource other than the session's → target_mismatch, and the token stays unspent (RFC 8707)", async () => {
      const orders = 'https://orders.test/api';
      const at = (resource: string | null, presented: string) =>
        store.rotate({ digest: presented, nextDigest: digest(), clientId: CLIENT, requestedScopes: [], resource, now: new Date(T0 + MINUTE), idleTtlMs: IDLE });
      const { session, first } = await newSession({ resource: orders });
      assert.equal((await store.find(session.id))?.resource, orders);
      assert.equal((await at('https://inventory.test/', first)).kind, 'target_mismatch');
      assert.equal((await at(null, first)).kind, 'target_mismatch');
      assert.deepEqual(
        (await rows(session.id)).map((r) => [r.generation, r.spentAt]),
        [[0, null]],
      );
      const rotated = await at(orders, first);
      assert.equal(rotated.kind, 'rotated');
      assert.equal(rotated.kind === 'rotated' ? rotated.session.resource : undefined, orders);
      // Spent: reuse whatever resource the thief names.
      assert.equal((await at('https://inventory.test/', first)).kind, 'reused');

      const plain = await newSession();
      assert.equal((await at(orders, plain.first)).kind, 'target_mismatch');
      assert.equal((await at(null, plain.first)).kind, 'rotated');
    });

    const refusals: [string, (s: { first: string }) => Promise<RotationOutcome>, Partial<NewSession>?][] = [
      ['at the idle expiry', ({ first }) => rotate(first, digest(), T0 + IDLE)],
      ['at the absolute expiry', ({ first }) => rotate(first, digest(), T0 + HOUR)],
      // Idle window longer than the session (never written by startSession): the absolute limit alone must refuse.
      ['past the absolute expiry with a live idle window', ({ first }) => rotate(first, digest(), T0 + HOUR), { idleExpiresAt: new Date(T0 + 2 * HOUR) }],
      ['for another client', ({ first }) => rotate(first, digest(), T0 + MINUTE, 'other-app')],
    ];
    for (const [label, run, overrides] of refusals) {
      test(`refused ${label}; nothing changed`, async () => {
        const created = await newSession(overrides);
        const before = await rows(created.session.id);
        const outcome = await run(created);
        assert.equal(outcome.kind, 'refused', JSON.stringify(outcome));
        assert.equal(typeof outcome.reason, 'string');
        assert.deepEqual(await rows(created.session.id), before);
        assert.deepEqual(await store.find(created.session.id), { ...created.session, kind: 'refresh', revokedAt: null, revokedReason: null });
      });
    }

    test('revoked session → refused (not reused, not rotated)', async () => {
      const { session, first } = await newSession();
      assert.equal(await store.revoke(session.id, 'logout', new Date(T0 + MINUTE)), true);
      const outcome = await rotate(first, digest(), T0 + 2 * MINUTE);
      assert.equal(outcome.kind, 'refused');
      assert.deepEqual(
        (await rows(session.id)).map((r) => r.generation),
        [0],
      );
    });

    test('one before the idle expiry still rotates', async () => {
      const { first } = await newSession();
      assert.equal((await rotate(first, digest(), T0 + IDLE - 1)).kind, 'rotated');
    });

    test('50 concurrent rotations of one token with distinct successors: exactly one rotated, the rest reused', async () => {
      const { session, first } = await newSession();
      const nexts = Array.from({ length: 50 }, () => digest());
      const outcomes = await Promise.all(nexts.map((n, i) => rotate(first, n, T0 + MINUTE + i)));
      const rotated = outcomes.filter((o) => o.kind === 'rotated');
      assert.equal(rotated.length, 1, outcomes.map((o) => o.kind).join(','));
      assert.ok(
        outcomes.every((o) => o.kind === 'rotated' || o.kind === 'reused'),
        outcomes.map((o) => o.kind).join(','),
      );
      const stored = await rows(session.id);
      assert.deepEqual(
        stored.map((r) => r.generation),
        [0, 1],
      );
      const winner = nexts[outcomes.findIndex((o) => o.kind === 'rotated')];
      assert.equal(stored[1]?.digest, winner, 'the stored successor is the winner’s');
    });
  });

  describe('rotate with a grace window', () => {
    const GRACE = 5_000;
    /** A rotation as exchangeRefreshToken makes it with a window: the seal is opaque to the store. */
    const rotateGrace = (presented: string, nextDigest: string, at: number, options: { clientId?: string; scopes?: string[]; seal?: string } = {}) =>
      store.rotate({
        digest: presented,
        nextDigest,
        clientId: options.clientId ?? CLIENT,
        requestedScopes: options.scopes ?? [],
        now: new Date(at),
        idleTtlMs: IDLE,
        grace: { windowMs: GRACE, sealedSuccessor: options.seal ?? `seal-of-${nextDigest}` },
      });
    /** A session whose first token was rotated at T0 + 1 min with a grace window; returns the digests. */
    const spentWithSeal = async (): Promise<{ session: NewSession; first: string; second: string }> => {
      const { session, first } = await newSession();
      const second = digest();
      assert.equal((await rotateGrace(first, second, T0 + MINUTE)).kind, 'rotated');
      return { session, first, second };
    };

    test('the spent row keeps the seal, written by the rotation itself; the successor has none', async () => {
      const { session, first, second } = await spentWithSeal();
      assert.deepEqual(
        (await rows(session.id)).map((r) => [r.digest, r.spentAt?.getTime() ?? null, r.successorSealed]),
        [
          [first, T0 + MINUTE, `seal-of-${second}`],
          [second, null, null],
        ],
      );
    });

    test('without a grace window the spent row keeps no seal', async () => {
      const { session, first } = await newSession();
      assert.equal((await rotate(first, digest(), T0 + MINUTE)).kind, 'rotated');
      assert.ok((await rows(session.id)).every((r) => r.successorSealed === null));
    });

    test('a repeat by the same client within the window → replayed, naming the stored successor; nothing changes', async () => {
      const { session, first, second } = await spentWithSeal();
      const before = await rows(session.id);
      const outcome = await rotateGrace(first, digest(), T0 + MINUTE + GRACE - 1, { seal: 'another seal' });
      assert.equal(outcome.kind, 'replayed', JSON.stringify(outcome));
      assert.equal(outcome.sealedSuccessor, `seal-of-${second}`);
      assert.equal(outcome.successorDigest, second);
      assert.equal(outcome.session.id, session.id);
      assert.deepEqual(await rows(session.id), before);
    });

    const reuses: [string, (s: { first: string; second: string }) => Promise<RotationOutcome>][] = [
      ['at the end of the window', ({ first }) => rotateGrace(first, digest(), T0 + MINUTE + GRACE)],
      ['from another client', ({ first }) => rotateGrace(first, digest(), T0 + MINUTE + 1, { clientId: 'other-app' })],
      ['asking for a scope the session lacks', ({ first }) => rotateGrace(first, digest(), T0 + MINUTE + 1, { scopes: ['admin:users'] })],
      ['by a strict request (no window), even with a seal stored', ({ first }) => rotate(first, digest(), T0 + MINUTE + 1)],
      [
        'after the successor was itself spent',
        async ({ first, second }) => {
          assert.equal((await rotateGrace(second, digest(), T0 + MINUTE + 1)).kind, 'rotated');
          return rotateGrace(first, digest(), T0 + MINUTE + 2);
        },
      ],
    ];
    for (const [label, run] of reuses) {
      test(`a repeat ${label} → reused`, async () => {
        const spent = await spentWithSeal();
        const outcome = await run(spent);
        assert.equal(outcome.kind, 'reused', JSON.stringify(outcome));
      });
    }

    test('a repeat after the seal was cleared (housekeeping) → reused', async () => {
      const { first } = await spentWithSeal();
      await t.services.database.db.update(refreshTokens).set({ successorSealed: null }).where(eq(refreshTokens.digest, first));
      assert.equal((await rotateGrace(first, digest(), T0 + MINUTE + 1)).kind, 'reused');
    });

    test('a repeat within the window on a revoked session → refused', async () => {
      const { session, first } = await spentWithSeal();
      assert.equal(await store.revoke(session.id, 'logout', new Date(T0 + MINUTE + 1)), true);
      assert.equal((await rotateGrace(first, digest(), T0 + MINUTE + 2)).kind, 'refused');
    });

    test('50 concurrent rotations with a window: one rotated, the others replayed to that same successor', async () => {
      const { session, first } = await newSession();
      const nexts = Array.from({ length: 50 }, () => digest());
      const outcomes = await Promise.all(nexts.map((n) => rotateGrace(first, n, T0 + MINUTE)));
      assert.equal(outcomes.filter((o) => o.kind === 'rotated').length, 1, outcomes.map((o) => o.kind).join(','));
      const winner = nexts[outcomes.findIndex((o) => o.kind === 'rotated')];
      for (const o of outcomes) {
        if (o.kind === 'rotated') continue;
        assert.equal(o.kind, 'replayed', JSON.stringify(o));
        assert.equal(o.successorDigest, winner);
        assert.equal(o.sealedSuccessor, `seal-of-${winner}`, 'the seal stored with the winner, never a loser’s');
      }
      assert.deepEqual(
        (await rows(session.id)).map((r) => [r.generation, r.digest]),
        [
          [0, first],
          [1, winner],
        ],
      );
    });
  });

  describe('revoke', () => {
    test('marks the session, spends every token, and a second revoke returns false (first reason wins)', async () => {
      const { session, first } = await newSession();
      const second = digest();
      assert.equal((await rotate(first, second, T0 + MINUTE)).kind, 'rotated');
      const at = new Date(T0 + 2 * MINUTE);
      assert.equal(await store.revoke(session.id, 'refresh_token_reuse', at), true);
      const found = await store.find(session.id);
      assert.equal(found?.revokedAt?.getTime(), at.getTime());
      assert.equal(found.revokedReason, 'refresh_token_reuse');
      const stored = await rows(session.id);
      assert.equal(stored.length, 2);
      assert.ok(
        stored.every((r) => r.spentAt !== null),
        'every token of the family is spent',
      );
      assert.equal(stored[0]?.spentAt?.getTime(), T0 + MINUTE, 'an already spent token keeps its spent time');

      assert.equal(await store.revoke(session.id, 'logout', new Date(T0 + 3 * MINUTE)), false);
      const after = await store.find(session.id);
      assert.equal(after?.revokedReason, 'refresh_token_reuse');
      assert.equal(after.revokedAt?.getTime(), at.getTime());
      assert.equal((await rotate(second, digest(), T0 + 4 * MINUTE)).kind, 'refused');
    });

    test('unknown or malformed session ids: false / undefined, never a throw', async () => {
      assert.equal(await store.revoke(randomUUID(), 'logout', new Date(T0)), false);
      assert.equal(await store.revoke("x' OR 1=1 --", 'logout', new Date(T0)), false);
      assert.equal(await store.find(randomUUID()), undefined);
      assert.equal(await store.find('not-a-uuid'), undefined);
    });

    test('revoking one session leaves the user’s other sessions alone', async () => {
      const a = await newSession();
      const b = await newSession();
      assert.equal(await store.revoke(a.session.id, 'logout', new Date(T0)), true);
      assert.equal((await store.find(b.session.id))?.revokedAt, null);
      assert.equal((await rotate(b.first, digest(), T0 + MINUTE)).kind, 'rotated');
    });
  });

  describe('cookie sessions', () => {
    const cookieDigest = 'a'.repeat(64);
    const newCookieSession = async (overrides: Partial<NewSession> = {}, version = 3): Promise<NewSession> => {
      const session: NewSession = {
        id: randomUUID(),
        userId,
        clientId: 'gatehouse-web',
        tenantId: null,
        scope: 'profile',
        device: 'Firefox on Linux',
        ip: '192.0.2.1',
        createdAt: new Date(T0),
        lastUsedAt: new Date(T0),
        expiresAt: new Date(T0 + HOUR),
        idleExpiresAt: new Date(T0 + IDLE),
        authMethods: ['pwd'],
        authTime: new Date(0),
        ...overrides,
      };
      await store.createCookieSession(session, cookieDigest, version);
      return session;
    };

    test('a cookie session has no refresh token; findCookieSession returns its digest and version, find and listActive never the digest', async () => {
      const session = await newCookieSession();
      assert.deepEqual(await rows(session.id), []);
      const found = await store.findCookieSession(session.id);
      assert.deepEqual(found, {
        ...session,
        kind: 'cookie',
        resource: null,
        revokedAt: null,
        revokedReason: null,
        secretDigest: cookieDigest,
        tokenVersion: 3,
      });
      const plain = await store.find(session.id);
      assert.deepEqual(plain, { ...session, kind: 'cookie', resource: null, revokedAt: null, revokedReason: null });
      const listed = (await store.listActive(userId, new Date(T0))).find((s) => s.id === session.id);
      assert.ok(listed !== undefined, '/me/sessions lists cookie sessions');
      assert.equal(listed.kind, 'cookie');
      assert.ok(!JSON.stringify([plain, listed]).includes(cookieDigest), 'no digest outside findCookieSession');
    });

    test('findCookieSession: a refresh session, an unknown or malformed id → undefined', async () => {
      const { session } = await newSession();
      assert.equal(await store.findCookieSession(session.id), undefined);
      assert.equal(await store.findCookieSession(randomUUID()), undefined);
      assert.equal(await store.findCookieSession("x' OR 1=1 --"), undefined);
    });

    test('the database refuses a cookie row without its digest and a refresh row with one', async () => {
      const db = t.services.database.db;
      const base = {
        userId,
        clientId: CLIENT,
        scope: 'profile',
        device: 'x',
        createdAt: new Date(T0),
        lastUsedAt: new Date(T0),
        expiresAt: new Date(T0 + HOUR),
        idleExpiresAt: new Date(T0 + IDLE),
        authMethods: ['pwd'],
        authTime: new Date(0),
      };
      await assert.rejects(db.insert(sessions).values({ ...base, id: randomUUID(), kind: 'cookie', tokenVersion: 0 }));
      await assert.rejects(db.insert(sessions).values({ ...base, id: randomUUID(), kind: 'refresh', cookieSecretDigest: cookieDigest }));
      await assert.rejects(db.insert(sessions).values({ ...base, id: randomUUID(), kind: 'bearer' }));
    });

    test('touchIdle moves the idle expiry (never past the absolute one) and refuses a revoked session', async () => {
      const session = await newCookieSession();
      assert.equal(await store.touchIdle(session.id, new Date(T0 + 5 * MINUTE), new Date(T0 + 15 * MINUTE)), true);
      let found = await store.findCookieSession(session.id);
      assert.equal(found?.idleExpiresAt.getTime(), T0 + 15 * MINUTE);
      assert.equal(found.lastUsedAt.getTime(), T0 + 5 * MINUTE);
      assert.equal(await store.touchIdle(session.id, new Date(T0 + 6 * MINUTE), new Date(T0 + 2 * HOUR)), true);
      found = await store.findCookieSession(session.id);
      assert.equal(found?.idleExpiresAt.getTime(), T0 + HOUR, 'capped at the absolute expiry');

      assert.equal(await store.revoke(session.id, 'logout', new Date(T0 + 7 * MINUTE)), true);
      assert.equal(await store.touchIdle(session.id, new Date(T0 + 8 * MINUTE), new Date(T0 + 18 * MINUTE)), false);
      found = await store.findCookieSession(session.id);
      assert.equal(found?.lastUsedAt.getTime(), T0 + 6 * MINUTE, 'a revoked session is not touched');
      assert.equal(found.revokedReason, 'logout');
      assert.equal(await store.touchIdle('not-a-uuid', new Date(T0), new Date(T0)), false);
    });

    test('revokeAllOfUser ends cookie sessions with the refresh ones', async () => {
      const other = (await t.register('store-user-cookies')).id;
      const cookie = await newCookieSession({ userId: other });
      const { session: refresh } = await newSession({ userId: other });
      const ids = await store.revokeAllOfUser(other, 'logout_all', new Date(T0 + MINUTE));
      assert.deepEqual(new Set(ids), new Set([cookie.id, refresh.id]));
      assert.equal((await store.findCookieSession(cookie.id))?.revokedReason, 'logout_all');
    });
  });
});
