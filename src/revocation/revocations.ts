import type { AuditRecord } from '../audit/audit-event.js';
import { InvalidTokenError, StoreUnavailableError } from '../errors/errors.js';
import type { SessionStore } from '../sessions/session-store.js';
import type { EphemeralStore, Subscription } from '../stores/ephemeral/ephemeral-store.js';
import type { AccessTokenClaims } from '@gatehouse/verify';
import type { UserStore } from '../users/user-store.js';
import { decodeEntries, encodeEntries, REVOCATION_SLACK_MS, type RevocableClaims, type RevocationEntry } from './revocation-entry.js';
import { RevocationList } from './revocation-list.js';
import { coalescedReload } from '../stores/coalesced-reload.js';
import type { RevocationStore } from './revocation-store.js';
import type { UnitOfWork, UnitStores } from '../stores/unit-of-work.js';

export interface RevocationDeps {
  readonly store: RevocationStore;
  /** The raw stores: revoking through them here is what makes a revocation propagate. */
  readonly sessions: Pick<SessionStore, 'revoke' | 'revokeAllOfUser'>;
  readonly users: Pick<UserStore, 'revokeAllTokens'>;
  /** Transactions over the same stores: see {@link Revocations.atomically}. */
  readonly unitOfWork: UnitOfWork;
  readonly feed: Pick<EphemeralStore, 'publish' | 'subscribe'>;
  /** Pub/sub channel shared by every instance of this deployment. */
  readonly channel: string;
  readonly accessTokenTtlMs: number;
  /** Token time (epoch ms); injectable for tests. Feed liveness always uses the wall clock. */
  readonly now: () => number;
  /** The feed unconfirmed for longer than this: the state may be stale, fail closed (default 3 s). */
  readonly staleAfterMs?: number;
  /** Full reload from the store this often even when the feed looks healthy (default 30 s). */
  readonly resyncIntervalMs?: number;
  readonly onEvent?: (event: RevocationEvent) => void;
  /**
   * Every entry this instance learns, local or remote. The composition root drops the user from
   * its user cache on a `user` entry, so a refresh right after a token-version bump elsewhere
   * mints a token with the new version instead of one that is refused at once.
   */
  readonly onEntry?: (entry: RevocationEntry) => void;
  /** Called once per revocation this instance made, after it is durable and applied (metrics). */
  readonly onRevoked?: (kind: RevocationEntry['kind']) => void;
}

export type RevocationEvent =
  | { readonly event: 'revocation.state_stale'; readonly unconfirmedMs: number }
  | { readonly event: 'revocation.state_current' }
  | { readonly event: 'revocation.resync_failed'; readonly error: unknown }
  | { readonly event: 'revocation.publish_failed'; readonly error: unknown }
  | { readonly event: 'revocation.watcher_failed'; readonly error: unknown };

export interface RevocationState {
  readonly current: boolean;
  readonly entries: number;
}

/** The durable half of each revocation; its entries are applied and published once it committed. */
export interface RevocationWrites {
  /** `audit` rows are written in the transaction of the change (see the stores). */
  revokeSession(sessionId: string, reason: string, now: Date, audit?: readonly AuditRecord[]): Promise<boolean>;
  revokeSessionsOfUser(userId: string, reason: string, now: Date, exceptSessionId?: string, audit?: readonly AuditRecord[]): Promise<string[]>;
  /** Bumps the user's token version: every access token issued before dies, whatever its session. */
  revokeUserTokens(userId: string, now: Date, audit?: readonly AuditRecord[]): Promise<number | undefined>;
  revokeAccessToken(claims: Pick<AccessTokenClaims, 'jti' | 'exp'>, now: Date, audit?: readonly AuditRecord[]): Promise<void>;
  /**
   * Everything of the user, in one transaction: the token version moves on (with `audit`), then
   * every session ends. Returns the ids of the sessions it ended; undefined for an unknown user
   * (nothing changed).
   */
  revokeEverythingOfUser(userId: string, reason: string, now: Date, audit?: readonly AuditRecord[]): Promise<string[] | undefined>;
}

/**
 * One transaction: its stores (revoking through them propagates, like the stores handed to the
 * rest of the code) and its revocation writes.
 */
export interface RevocationUnit extends RevocationWrites {
  readonly stores: UnitStores;
}

/**
 * Revocation of access tokens that are already out: per token (`jti`), per session (`sid`) and per
 * user (token version). Each revocation is written to the durable store first, applied to this
 * instance's in-process list, then published so every other instance applies it within
 * milliseconds. A request is checked against the list alone: no network round trip.
 *
 * Fail closed: when this instance cannot confirm its feed is live (Redis gone for longer than
 * `staleAfterMs`) or still has to catch up after an outage, `assertNotRevoked` throws
 * StoreUnavailableError for every token, so a revocation made elsewhere meanwhile is never missed.
 * It recovers by itself: the feed resubscribes, the list reloads from the store.
 */
export interface Revocations extends RevocationWrites {
  /** Throws InvalidTokenError for a revoked token, StoreUnavailableError when the state is not current. */
  assertNotRevoked(claims: RevocableClaims): void;
  state(): RevocationState;
  /**
   * A change and the revocations it causes as one transaction (a password change and the other
   * sessions' end, a disabled account and its tokens): all of it commits or none of it does, so a
   * crash between the two can no longer leave the new password working and the old sessions alive.
   * What it revoked is applied in process and published after the commit only.
   */
  atomically<T>(work: (unit: RevocationUnit) => Promise<T>): Promise<T>;
  /**
   * Tells resource servers on the feed that a signing key was revoked, so they drop it and its
   * cached verifications at once instead of at their JWKS max-age. The key's own row is the record
   * (and how instances learn it); this entry only spreads the news, kept for one token lifetime.
   */
  announceSigningKeyRevoked(kid: string, now: Date): Promise<void>;
  /**
   * Calls `listener` with every entry this instance learns from now on (its own revocations, the
   * feed's, each resync's: an entry may come more than once) until the returned function is
   * called. For what lives past a request and must follow revocation at once: open WebSockets.
   */
  watchEntries(listener: (entry: RevocationEntry) => void): () => void;
  close(): Promise<void>;
}

const TICK_MS = 500;

export async function startRevocations(deps: RevocationDeps): Promise<Revocations> {
  const staleAfterMs = deps.staleAfterMs ?? 3_000;
  const resyncIntervalMs = deps.resyncIntervalMs ?? 30_000;
  // How long a session or user revocation can still match a token: one lifetime plus skew.
  const windowMs = deps.accessTokenTtlMs + REVOCATION_SLACK_MS;
  const list = new RevocationList();
  let catchingUp = true;
  let lastSync = 0;
  let reportedCurrent = true;

  const watchers = new Set<(entry: RevocationEntry) => void>();
  const add = (entry: RevocationEntry): void => {
    list.add(entry);
    deps.onEntry?.(entry);
    for (const watcher of watchers) {
      try {
        watcher(entry);
      } catch (error) {
        // A watcher's fault must not stop the list from learning the rest of a message.
        deps.onEvent?.({ event: 'revocation.watcher_failed', error });
      }
    }
  };

  const resync = coalescedReload(
    async () => {
      const entries = await deps.store.loadLive(new Date(deps.now()), windowMs);
      for (const entry of entries) add(entry);
    },
    () => {
      list.prune(deps.now());
      lastSync = Date.now();
      catchingUp = false;
    },
  );

  // Subscribe before loading: whatever is committed after the load started arrives on the feed.
  const subscription: Subscription = await deps.feed.subscribe(deps.channel, {
    onMessage: (message) => {
      for (const entry of decodeEntries(message)) add(entry);
    },
    onResubscribed: () => {
      catchingUp = true;
      resync().catch((error: unknown) => deps.onEvent?.({ event: 'revocation.resync_failed', error }));
    },
  });
  try {
    await resync();
  } catch (error) {
    await subscription.close();
    throw error;
  }

  // A subscription known lost (Redis died: its connection closed) is missing messages now: closed at
  // once, not only once the heartbeat has been unanswered for staleAfterMs.
  const isCurrent = (): boolean => !catchingUp && !subscription.lost() && Date.now() - subscription.confirmedAt() <= staleAfterMs;

  const timer = setInterval(() => {
    const current = isCurrent();
    if (current !== reportedCurrent) {
      reportedCurrent = current;
      deps.onEvent?.(
        current ? { event: 'revocation.state_current' } : { event: 'revocation.state_stale', unconfirmedMs: Date.now() - subscription.confirmedAt() },
      );
    }
    if (catchingUp || Date.now() - lastSync >= resyncIntervalMs) {
      resync().catch((error: unknown) => deps.onEvent?.({ event: 'revocation.resync_failed', error }));
    }
  }, TICK_MS);
  timer.unref();

  const apply = async (entries: RevocationEntry[]): Promise<void> => {
    if (entries.length === 0) return;
    for (const entry of entries) add(entry);
    if (deps.onRevoked !== undefined) for (const entry of entries) deps.onRevoked(entry.kind);
    try {
      await deps.feed.publish(deps.channel, encodeEntries(entries));
    } catch (error) {
      // Durable already; other instances get it from their next resync (within resyncIntervalMs).
      deps.onEvent?.({ event: 'revocation.publish_failed', error });
    }
  };

  // Session and user ids are UUIDs, which the database matches in any case; tokens carry them as
  // the database writes them (lower case), so entries are keyed lower case whatever the caller passed.
  const writesOver = (
    stores: Pick<RevocationDeps, 'sessions' | 'users'> & { readonly denyList: Pick<RevocationStore, 'denyAccessToken'> },
    pending: RevocationEntry[],
  ): RevocationWrites => {
    const writes: RevocationWrites = {
      async revokeSession(sessionId, reason, now, audit) {
        const revoked = await stores.sessions.revoke(sessionId, reason, now, audit);
        if (revoked) pending.push({ kind: 'session', id: sessionId.toLowerCase(), until: now.getTime() + windowMs });
        return revoked;
      },
      async revokeSessionsOfUser(userId, reason, now, exceptSessionId, audit) {
        const ids = await stores.sessions.revokeAllOfUser(userId, reason, now, exceptSessionId, audit);
        pending.push(...ids.map((id) => ({ kind: 'session' as const, id: id.toLowerCase(), until: now.getTime() + windowMs })));
        return ids;
      },
      async revokeUserTokens(userId, now, audit) {
        const version = await stores.users.revokeAllTokens(userId, now, audit);
        if (version !== undefined) pending.push({ kind: 'user', id: userId.toLowerCase(), version, until: now.getTime() + windowMs });
        return version;
      },
      async revokeAccessToken(claims, now, audit) {
        const expiresAt = new Date(claims.exp * 1000);
        await stores.denyList.denyAccessToken(claims.jti, expiresAt, now, audit);
        pending.push({ kind: 'token', id: claims.jti, until: expiresAt.getTime() + REVOCATION_SLACK_MS });
      },
      // The user row before the session rows: the lock order of docs/architecture.md.
      async revokeEverythingOfUser(userId, reason, now, audit) {
        if ((await writes.revokeUserTokens(userId, now, audit)) === undefined) return undefined;
        return writes.revokeSessionsOfUser(userId, reason, now);
      },
    };
    return writes;
  };

  /** One write on the raw stores (one transaction of its own), applied once it returned. */
  const single = async <T>(write: (writes: RevocationWrites) => Promise<T>): Promise<T> => {
    const pending: RevocationEntry[] = [];
    const result = await write(writesOver({ sessions: deps.sessions, users: deps.users, denyList: deps.store }, pending));
    await apply(pending);
    return result;
  };

  const atomically = async <T>(work: (unit: RevocationUnit) => Promise<T>): Promise<T> => {
    const pending: RevocationEntry[] = [];
    // A unit that rolled back leaves `pending` unapplied: nothing of it happened.
    const result = await deps.unitOfWork((stores) => {
      const writes = writesOver(stores, pending);
      const unitStores: UnitStores = {
        ...stores,
        sessions: propagatingSessionStore(stores.sessions, writes),
        users: propagatingUserStore(stores.users, writes),
      };
      return work({ ...writes, stores: unitStores });
    });
    await apply(pending);
    return result;
  };

  const revocations: Revocations = {
    assertNotRevoked(claims) {
      if (!isCurrent()) throw new StoreUnavailableError('revocation state is not current (feed unconfirmed or catching up)');
      const reason = list.reasonRevoked(claims, deps.now());
      if (reason !== undefined) throw new InvalidTokenError(reason);
    },

    state: () => ({ current: isCurrent(), entries: list.size }),

    revokeSession: (...args) => single((w) => w.revokeSession(...args)),
    revokeSessionsOfUser: (...args) => single((w) => w.revokeSessionsOfUser(...args)),
    revokeUserTokens: (...args) => single((w) => w.revokeUserTokens(...args)),
    revokeAccessToken: (...args) => single((w) => w.revokeAccessToken(...args)),
    revokeEverythingOfUser: (...args) => atomically((unit) => unit.revokeEverythingOfUser(...args)),
    atomically,

    announceSigningKeyRevoked: (kid, now) => apply([{ kind: 'key', id: kid, until: now.getTime() + windowMs }]),

    watchEntries(listener) {
      // A wrapper per call, so the same function watched twice is unwatched once per call.
      const watcher = (entry: RevocationEntry): void => listener(entry);
      watchers.add(watcher);
      return () => void watchers.delete(watcher);
    },

    async close() {
      watchers.clear();
      clearInterval(timer);
      await subscription.close();
    },
  };
  return revocations;
}

/**
 * The session store everyone else uses: its revocations go through {@link Revocations}, so revoking
 * a session anywhere (logout, reuse detection, device revoke) also kills its live access tokens on
 * every instance.
 */
export function propagatingSessionStore(inner: SessionStore, revocations: Pick<RevocationWrites, 'revokeSession' | 'revokeSessionsOfUser'>): SessionStore {
  return {
    ...inner,
    revoke: (sessionId, reason, now, audit) => revocations.revokeSession(sessionId, reason, now, audit),
    revokeAllOfUser: (userId, reason, now, exceptSessionId, audit) => revocations.revokeSessionsOfUser(userId, reason, now, exceptSessionId, audit),
  };
}

/** The user store everyone else uses: bumping a token version propagates like any revocation. */
export function propagatingUserStore<T extends UserStore>(inner: T, revocations: Pick<RevocationWrites, 'revokeUserTokens'>): T {
  return { ...inner, revokeAllTokens: (userId: string, now: Date, audit?: readonly AuditRecord[]) => revocations.revokeUserTokens(userId, now, audit) };
}
