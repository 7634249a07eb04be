import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, afterEach, before, describe, test } from 'node:test';
import { InvalidTokenError, StoreUnavailableError } from '../../src/errors/errors.js';
import type { RevocationStore } from '../../src/revocation/revocation-store.js';
import { startRevocations, type RevocationDeps, type RevocationEvent, type Revocations } from '../../src/revocation/revocations.js';
import type { SessionStore } from '../../src/sessions/session-store.js';
import { openDatabase, type Database } from '../../src/stores/db/database.js';
import { createDrizzleRevocationStore } from '../../src/stores/db/drizzle-revocation-store.js';
import { createDrizzleSessionStore } from '../../src/stores/db/drizzle-session-store.js';
import { createDrizzleUserStore } from '../../src/stores/db/drizzle-user-store.js';
import type { ChannelListener, EphemeralStore } from '../../src/stores/ephemeral/ephemeral-store.js';
import { createMemoryStore } from '../../src/stores/ephemeral/memory-store.js';
import type { AccessTokenClaims } from '@gatehouse/verify';
import type { UserStore } from '../../src/users/user-store.js';
import { createDrizzleUnitOfWork } from '../../src/stores/db/drizzle-unit-of-work.js';
import { createTestStores, testStoreProfile } from '../support/test-stores.js';

type Claims = Pick<AccessTokenClaims, 'jti' | 'sid' | 'sub' | 'tver'>;
type Feed = Pick<EphemeralStore, 'publish' | 'subscribe'>;
type Outcome = 'ok' | 'revoked' | 'unavailable';

const MINUTE = 60_000;
const TTL_MS = 15 * MINUTE;
const CHANNEL = 'revocations';
/** Generous: these are deadlines for things that should happen in milliseconds, not speed assertions. */
const DEADLINE_MS = 5_000;

/** What `assertNotRevoked` says about a token, as a value (so tests can poll on it). */
function outcome(r: Revocations, claims: Claims): Outcome {
  try {
    r.assertNotRevoked(claims);
    return 'ok';
  } catch (error) {
    if (error instanceof InvalidTokenError) return 'revoked';
    if (error instanceof StoreUnavailableError) return 'unavailable';
    throw error;
  }
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function pollUntil(label: string, done: () => boolean, timeoutMs = DEADLINE_MS): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > deadline) assert.fail(`timed out after ${timeoutMs} ms waiting for: ${label}`);
    await sleep(5);
  }
}

/**
 * A pub/sub feed whose liveness the test controls: `freeze()` stops `confirmedAt` advancing (as a
 * Redis subscription whose heartbeat no longer answers), `drop()` marks it lost (its connection
 * closed, as when Redis dies) until `resubscribed()`, which reports a reconnect,
 * `failPublish` makes publishing reject. Messages are delivered asynchronously to this feed's own
 * subscribers, like the memory store does.
 */
interface TestFeed extends Feed {
  freeze(): void;
  thaw(): void;
  drop(): void;
  resubscribed(): void;
  failPublish: boolean;
  readonly published: string[];
  readonly openSubscriptions: number;
}

function controllableFeed(): TestFeed {
  const listeners = new Set<ChannelListener>();
  let frozenAt: number | undefined;
  let lost = false;
  const published: string[] = [];
  const feed: TestFeed = {
    failPublish: false,
    published,
    get openSubscriptions() {
      return listeners.size;
    },
    freeze() {
      frozenAt = Date.now();
    },
    thaw() {
      frozenAt = undefined;
    },
    drop() {
      lost = true;
    },
    resubscribed() {
      lost = false;
      for (const listener of [...listeners]) listener.onResubscribed();
    },
    async publish(channel, message) {
      if (feed.failPublish) throw new StoreUnavailableError('test feed: publish refused');
      assert.equal(channel, CHANNEL);
      published.push(message);
      for (const listener of [...listeners]) queueMicrotask(() => listener.onMessage(message));
    },
    async subscribe(channel, listener) {
      assert.equal(channel, CHANNEL);
      listeners.add(listener);
      return {
        confirmedAt: () => frozenAt ?? Date.now(),
        lost: () => lost,
        async close() {
          listeners.delete(listener);
        },
      };
    },
  };
  return feed;
}

/**
 * The real store behind switches: `hold()` makes the next loads read the database and then wait
 * (a query that has run but whose answer is late), `fail()` makes loads reject.
 */
interface GatedStore {
  readonly store: RevocationStore;
  hold(): void;
  release(): void;
  /** Resolves once a held load has read the database and is waiting. */
  waiting(): Promise<void>;
  fail(error: Error | undefined): void;
  readonly loads: number;
}

function gatedStore(inner: RevocationStore): GatedStore {
  let gate: Promise<void> | undefined;
  let open: (() => void) | undefined;
  let arrived: (() => void) | undefined;
  let arrival: Promise<void> = new Promise((resolve) => (arrived = resolve));
  let failure: Error | undefined;
  let loads = 0;
  return {
    store: {
      async loadLive(now, windowMs) {
        loads++;
        if (failure !== undefined) throw failure;
        const entries = await inner.loadLive(now, windowMs);
        const held = gate;
        if (held !== undefined) {
          arrived?.();
          await held;
        }
        return entries;
      },
      pageLive: (now, windowMs, after, limit) => inner.pageLive(now, windowMs, after, limit),
      denyAccessToken: (jti, expiresAt, now) => inner.denyAccessToken(jti, expiresAt, now),
    },
    hold() {
      gate = new Promise((resolve) => (open = resolve));
      arrival = new Promise((resolve) => (arrived = resolve));
    },
    release() {
      gate = undefined;
      open?.();
    },
    waiting: () => arrival,
    fail(error) {
      failure = error;
    },
    get loads() {
      return loads;
    },
  };
}

/** The database of this pass: PGlite in memory (embedded) or a fresh PostgreSQL database (real). */
async function openPassDatabase(): Promise<{ database: Database; cleanup(): Promise<void> }> {
  if (testStoreProfile === 'real') {
    const stores = await createTestStores();
    const database = await openDatabase({ kind: 'postgres', url: stores.databaseUrl });
    return {
      database,
      async cleanup() {
        await database.close();
        await stores.cleanup();
      },
    };
  }
  const database = await openDatabase({ kind: 'pglite-memory' });
  return { database, cleanup: () => database.close() };
}

describe('startRevocations', () => {
  let cleanupDb: () => Promise<void>;
  let database: Database;
  let users: UserStore;
  let sessions: SessionStore;
  let store: RevocationStore;
  /** Every instance a test starts, closed after it whatever happened. */
  let started: Revocations[] = [];
  let events: RevocationEvent[] = [];

  const start = async (feed: Feed, overrides: Partial<RevocationDeps> = {}): Promise<Revocations> => {
    const r = await startRevocations({
      store,
      sessions,
      users,
      unitOfWork: createDrizzleUnitOfWork(database.db),
      feed,
      channel: CHANNEL,
      accessTokenTtlMs: TTL_MS,
      now: Date.now,
      // Far away: what an instance learns after its start comes from the feed or an explicit catch-up.
      resyncIntervalMs: 60 * MINUTE,
      onEvent: (event) => events.push(event),
      ...overrides,
    });
    started.push(r);
    return r;
  };

  const newUser = async (): Promise<string> => {
    const id = randomUUID();
    const name = `u${id.slice(0, 8)}`;
    await users.create({ id, username: name, usernameKey: name, email: null, passwordHash: 'not-a-hash' });
    return id;
  };

  const newSession = async (userId: string): Promise<string> => {
    const id = randomUUID();
    const now = Date.now();
    await sessions.create(
      {
        id,
        userId,
        tenantId: null,
        clientId: 'gatehouse-cli',
        scope: 'profile',
        device: 'test',
        ip: null,
        createdAt: new Date(now),
        lastUsedAt: new Date(now),
        expiresAt: new Date(now + 60 * MINUTE),
        idleExpiresAt: new Date(now + 30 * MINUTE),
        authMethods: ['pwd'],
        authTime: new Date(0),
      },
      randomUUID().replaceAll('-', '').padEnd(64, '0'),
    );
    return id;
  };

  /** A fresh access token of `sub` in `sid` (claims only: nothing here verifies signatures). */
  const token = (sub: string, sid: string | undefined, tver = 0): Claims => ({ jti: randomUUID(), sub, tver, ...(sid !== undefined && { sid }) });
  const exp = (): number => Math.floor(Date.now() / 1000) + TTL_MS / 1000;

  before(async () => {
    const opened = await openPassDatabase();
    cleanupDb = opened.cleanup;
    database = opened.database;
    users = createDrizzleUserStore(database.db);
    sessions = createDrizzleSessionStore(database.db);
    store = createDrizzleRevocationStore(database.db);
  });
  afterEach(async () => {
    await Promise.allSettled(started.map((r) => r.close()));
    started = [];
    events = [];
  });
  after(() => cleanupDb());

  describe('malicious cases', () => {
    test('fail closed: a feed that stops confirming makes every token 503-worthy, and the catch-up loads what was revoked meanwhile', async () => {
      const feed = controllableFeed();
      const r = await start(feed, { staleAfterMs: 50 });
      const user = await newUser();
      const doomed = token(user, await newSession(user));
      const live = token(user, await newSession(user));
      assert.equal(outcome(r, doomed), 'ok');
      assert.equal(r.state().current, true);

      feed.freeze();
      await pollUntil('stale state refuses tokens', () => outcome(r, live) === 'unavailable');
      assert.equal(r.state().current, false);
      await pollUntil('a state_stale event', () => events.some((e) => e.event === 'revocation.state_stale'));

      // Another instance revokes meanwhile; its publish never reached us (written to the database only).
      assert.equal(await sessions.revoke(doomed.sid as string, 'logout', new Date()), true);
      assert.equal(outcome(r, doomed), 'unavailable', 'still closed, not "ok"');

      feed.thaw();
      feed.resubscribed();
      await pollUntil('recovered after the resubscribe', () => outcome(r, live) === 'ok');
      assert.equal(outcome(r, doomed), 'revoked', 'the catch-up must have loaded the revocation written during the outage');
      assert.equal(r.state().current, true);
      await pollUntil('a state_current event', () => events.some((e) => e.event === 'revocation.state_current'));
    });

    // Found by test/faults/redis-outage.test.ts: with Redis SIGKILLed, a session revoked on another
    // instance was accepted here for up to 3 s, until the unanswered heartbeats made the state stale,
    // although the subscriber's connection had closed at once.
    test('a subscription known lost refuses every token at once, long before the heartbeat window, until it is renewed and caught up', async () => {
      const feed = controllableFeed();
      const r = await start(feed, { staleAfterMs: 60_000 });
      const user = await newUser();
      const doomed = token(user, await newSession(user));
      const live = token(user, await newSession(user));
      assert.equal(outcome(r, live), 'ok');

      feed.drop();
      // Another instance revokes right after; its publish is lost with the connection.
      assert.equal(await sessions.revoke(doomed.sid as string, 'logout', new Date()), true);
      assert.equal(outcome(r, doomed), 'unavailable', 'accepted while the subscription is known lost');
      assert.equal(outcome(r, live), 'unavailable');
      assert.equal(r.state().current, false);

      feed.resubscribed();
      await pollUntil('caught up after the renewal', () => outcome(r, live) === 'ok');
      assert.equal(outcome(r, doomed), 'revoked');
    });

    test('while catching up after a resubscribe, every token is refused as unavailable, even one never revoked', async () => {
      const feed = controllableFeed();
      const gated = gatedStore(store);
      const r = await start(feed, { store: gated.store });
      const user = await newUser();
      const live = token(user, await newSession(user));
      assert.equal(outcome(r, live), 'ok');

      gated.hold();
      feed.resubscribed();
      await gated.waiting();
      // confirmedAt is fresh, yet messages may have been lost: not current until the reload lands.
      assert.equal(outcome(r, live), 'unavailable');
      assert.equal(r.state().current, false);
      gated.release();
      await pollUntil('caught up', () => outcome(r, live) === 'ok');
    });

    test('REGRESSION: a resubscribe while an older resync is in flight must not accept that older load as the catch-up', async () => {
      // Load #1 reads the database, then the feed drops again and a revocation is published while we
      // are disconnected (lost), then we resubscribe. If that resubscribe joins load #1 instead of
      // loading anew, the instance turns "current" without ever seeing the revocation, and accepts the
      // revoked session until the next periodic resync (30 s by default).
      const feed = controllableFeed();
      const gated = gatedStore(store);
      const r = await start(feed, { store: gated.store });
      const user = await newUser();
      const doomed = token(user, await newSession(user));

      gated.hold();
      feed.resubscribed(); // first reconnect: load #1 starts
      await gated.waiting(); // load #1 has read the database (the session is live there)
      assert.equal(await sessions.revoke(doomed.sid as string, 'logout', new Date()), true); // lost publish
      feed.resubscribed(); // second reconnect, after the lost message
      gated.release();

      await pollUntil('no longer catching up', () => outcome(r, doomed) !== 'unavailable');
      assert.equal(
        outcome(r, doomed),
        'revoked',
        'a session revoked before the last resubscribe was accepted: the catch-up reused a load that started earlier',
      );
    });

    test('REGRESSION: a resubscribe while a periodic resync is in flight must not accept that older load as the catch-up', async () => {
      // The one-outage version of the race above: the periodic resync has read the database, Redis
      // drops, another instance revokes (its publish lost for us), we resubscribe, and the catch-up
      // joins the periodic load that started before the revocation.
      const feed = controllableFeed();
      const gated = gatedStore(store);
      const r = await start(feed, { store: gated.store, resyncIntervalMs: 700 });
      const user = await newUser();
      const doomed = token(user, await newSession(user));

      gated.hold();
      await gated.waiting(); // the periodic resync (first due about 1 s after start) has read the database
      assert.equal(await sessions.revoke(doomed.sid as string, 'logout', new Date()), true); // lost publish
      feed.resubscribed();
      gated.release();

      await pollUntil('no longer catching up', () => outcome(r, doomed) !== 'unavailable');
      assert.equal(outcome(r, doomed), 'revoked', 'a session revoked before the resubscribe was accepted: the catch-up reused a load that started earlier');
    });

    test('a catch-up that fails keeps refusing (resync_failed reported) and the periodic tick retries until it succeeds', async () => {
      const feed = controllableFeed();
      const gated = gatedStore(store);
      const r = await start(feed, { store: gated.store });
      const user = await newUser();
      const doomed = token(user, await newSession(user));
      const live = token(user, await newSession(user));

      gated.fail(new StoreUnavailableError('test: database down'));
      feed.resubscribed();
      await pollUntil('resync_failed reported', () => events.some((e) => e.event === 'revocation.resync_failed'));
      const loadsAfterFirstFailure = gated.loads;
      await pollUntil('the tick retried', () => gated.loads > loadsAfterFirstFailure);
      assert.equal(outcome(r, live), 'unavailable', 'a failed catch-up must not count as caught up');

      assert.equal(await sessions.revoke(doomed.sid as string, 'logout', new Date()), true);
      gated.fail(undefined);
      await pollUntil('recovered by the periodic retry', () => outcome(r, live) === 'ok');
      assert.equal(outcome(r, doomed), 'revoked');
    });

    test('startup refuses to run on a store it cannot load, and unsubscribes', async () => {
      const feed = controllableFeed();
      const gated = gatedStore(store);
      gated.fail(new StoreUnavailableError('test: database down'));
      await assert.rejects(start(feed, { store: gated.store }), StoreUnavailableError);
      assert.equal(feed.openSubscriptions, 0);
    });

    test('garbage on the channel neither throws nor stops later revocations from arriving', async () => {
      const memory = createMemoryStore();
      try {
        const a = await start(memory);
        const b = await start(memory);
        const user = await newUser();
        const doomed = token(user, await newSession(user));
        const bystander = token(user, await newSession(user));
        for (const garbage of [
          '',
          'not json',
          '{}',
          '[{"kind":"session","id":"","until":1e15}]',
          JSON.stringify([{ kind: 'session', id: bystander.sid, until: 'forever' }]),
        ]) {
          await memory.publish(CHANNEL, garbage);
        }
        assert.equal(await a.revokeSession(doomed.sid as string, 'logout', new Date()), true);
        await pollUntil('B refuses the revoked session', () => outcome(b, doomed) === 'revoked');
        assert.equal(outcome(b, bystander), 'ok');
      } finally {
        await memory.close();
      }
    });

    test('a restart refuses everything revoked before: sessions, access tokens, token versions', async () => {
      const memory = createMemoryStore();
      const user = await newUser();
      const other = await newUser();
      const loggedOut = token(user, await newSession(user));
      const deviceA = token(user, await newSession(user));
      const kept = token(user, await newSession(user));
      const denied = token(user, kept.sid);
      const oldVersion = token(other, await newSession(other), 0);
      try {
        const first = await start(memory);
        const now = new Date();
        assert.equal(await first.revokeSession(loggedOut.sid as string, 'logout', now), true);
        assert.deepEqual(await first.revokeSessionsOfUser(user, 'password_changed', now, kept.sid), [deviceA.sid]);
        await first.revokeAccessToken({ jti: denied.jti, exp: exp() }, now);
        assert.equal(await first.revokeUserTokens(other, now), 1);
        await first.close();
      } finally {
        await memory.close();
      }

      // A new process: a new feed that never carried those messages, the same database.
      const restarted = await start(createMemoryStore());
      assert.equal(outcome(restarted, loggedOut), 'revoked');
      assert.equal(outcome(restarted, deviceA), 'revoked');
      assert.equal(outcome(restarted, denied), 'revoked');
      assert.equal(outcome(restarted, oldVersion), 'revoked');
      // …and nothing more than that.
      assert.equal(outcome(restarted, kept), 'ok', 'the excepted session survives');
      assert.equal(outcome(restarted, token(user, kept.sid)), 'ok', 'another token of the surviving session');
      assert.equal(outcome(restarted, token(other, oldVersion.sid, 1)), 'ok', 'a token issued after the bump');
    });
  });

  describe('two instances on one memory store and one database', () => {
    let memory: EphemeralStore;
    let a: Revocations;
    let b: Revocations;
    before(() => {
      memory = createMemoryStore();
    });
    after(() => memory.close());
    const startBoth = async (): Promise<void> => {
      a = await start(memory);
      b = await start(memory);
    };

    test('a session revoked on A is refused on B (via the feed: B does not reload meanwhile)', async () => {
      await startBoth();
      const user = await newUser();
      const doomed = token(user, await newSession(user));
      const sibling = token(user, await newSession(user));
      assert.equal(outcome(b, doomed), 'ok');
      assert.equal(await a.revokeSession(doomed.sid as string, 'logout', new Date()), true);
      assert.equal(outcome(a, doomed), 'revoked', 'at once on the instance that revoked');
      await pollUntil('B refuses the session', () => outcome(b, doomed) === 'revoked');
      assert.equal(outcome(b, token(user, doomed.sid)), 'revoked', 'any token of that session');
      assert.equal(outcome(b, sibling), 'ok', 'another session of the same user is untouched');
    });

    test('an access token revoked on A is refused on B; its session is not', async () => {
      await startBoth();
      const user = await newUser();
      const sid = await newSession(user);
      const denied = token(user, sid);
      await a.revokeAccessToken({ jti: denied.jti, exp: exp() }, new Date());
      await pollUntil('B refuses the jti', () => outcome(b, denied) === 'revoked');
      assert.equal(outcome(b, token(user, sid)), 'ok', 'a new token of the same session');
    });

    test("a token-version bump on A is refused on B for older tokens only, and not for another user's", async () => {
      await startBoth();
      const user = await newUser();
      const other = await newUser();
      const sid = await newSession(user);
      assert.equal(await a.revokeUserTokens(user, new Date()), 1);
      await pollUntil('B refuses tver 0', () => outcome(b, token(user, sid, 0)) === 'revoked');
      assert.equal(outcome(b, { jti: randomUUID(), sub: user, sid }), 'revoked', 'no tver counts as 0');
      assert.equal(outcome(b, token(user, sid, 1)), 'ok');
      assert.equal(outcome(b, token(other, await newSession(other), 0)), 'ok');
    });

    test('revoking all sessions of a user but one on A: B refuses exactly those', async () => {
      await startBoth();
      const user = await newUser();
      const other = await newUser();
      const [s1, s2, current] = [await newSession(user), await newSession(user), await newSession(user)];
      const foreign = await newSession(other);
      const ids = await a.revokeSessionsOfUser(user, 'password_changed', new Date(), current);
      assert.deepEqual([...ids].sort(), [s1, s2].sort());
      await pollUntil('B refuses both', () => outcome(b, token(user, s1)) === 'revoked' && outcome(b, token(user, s2)) === 'revoked');
      assert.equal(outcome(b, token(user, current)), 'ok');
      assert.equal(outcome(b, token(other, foreign)), 'ok');
    });

    test('watchEntries: a watcher on B hears what A revokes (session, token version), a throwing watcher stops neither, and an unwatched one hears nothing more', async () => {
      await startBoth();
      const user = await newUser();
      const sid = await newSession(user);
      const heard: string[] = [];
      const unwatch = b.watchEntries((entry) => heard.push(`${entry.kind}:${entry.id}`));
      b.watchEntries(() => {
        throw new Error('a faulty watcher');
      });
      await a.revokeSession(sid, 'logout', new Date());
      await pollUntil('B heard the session', () => heard.includes(`session:${sid}`));
      assert.equal(outcome(b, token(user, sid)), 'revoked', 'the list learned it despite the faulty watcher');
      assert.ok(events.some((e) => e.event === 'revocation.watcher_failed'));
      await a.revokeUserTokens(user, new Date());
      await pollUntil('B heard the user', () => heard.includes(`user:${user}`));
      unwatch();
      const before = heard.length;
      await a.revokeSession(await newSession(user), 'logout', new Date());
      await pollUntil('B applied it', () => outcome(b, token(user, undefined, 1)) === 'ok' && b.state().entries >= 3);
      assert.equal(heard.length, before, 'unwatched: nothing more');
    });

    test('revoking an unknown or already revoked session returns false and publishes nothing', async () => {
      const feed = controllableFeed();
      const r = await start(feed);
      const user = await newUser();
      const sid = await newSession(user);
      assert.equal(await r.revokeSession(randomUUID(), 'logout', new Date()), false);
      assert.equal(await r.revokeSession('not-a-uuid', 'logout', new Date()), false);
      assert.equal(feed.published.length, 0);
      assert.equal(await r.revokeSession(sid, 'logout', new Date()), true);
      assert.equal(await r.revokeSession(sid, 'logout', new Date()), false);
      assert.equal(feed.published.length, 1);
    });
  });

  describe('a failed publish', () => {
    test('is reported through onEvent; the revocation still holds here and in the database', async () => {
      const feed = controllableFeed();
      const r = await start(feed);
      const user = await newUser();
      const other = await newUser();
      const doomed = token(user, await newSession(user));
      const denied = token(user, await newSession(user));
      const bumped = token(other, await newSession(other), 0);
      feed.failPublish = true;

      const now = new Date();
      assert.equal(await r.revokeSession(doomed.sid as string, 'logout', now), true, 'a lost publish does not fail the revocation');
      await r.revokeAccessToken({ jti: denied.jti, exp: exp() }, now);
      assert.equal(await r.revokeUserTokens(other, now), 1);

      const failures = events.filter((e) => e.event === 'revocation.publish_failed');
      assert.equal(failures.length, 3);
      for (const f of failures) assert.ok(f.event === 'revocation.publish_failed' && f.error instanceof StoreUnavailableError);
      for (const c of [doomed, denied, bumped]) assert.equal(outcome(r, c), 'revoked', 'locally');
      assert.ok((await sessions.find(doomed.sid as string))?.revokedAt instanceof Date, 'durable');

      // Another instance (or this one restarted) learns it from the database.
      const memory = createMemoryStore();
      try {
        const fresh = await start(memory);
        for (const c of [doomed, denied, bumped]) assert.equal(outcome(fresh, c), 'revoked', 'from the database');
      } finally {
        await memory.close();
      }
    });
  });
});
