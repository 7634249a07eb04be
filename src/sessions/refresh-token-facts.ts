import type { SessionRecord } from './session-store.js';

/**
 * What the refresh grant reads about a token's session before it spends the token: who, which
 * client, tenant, scope and resource. None of these ever changes for a session (a revoked or
 * expired session keeps them), so they may be remembered; whether the session is still live is
 * never read from here but decided by the rotation itself, in the database.
 */
export type RefreshTokenFacts = Pick<SessionRecord, 'id' | 'userId' | 'clientId' | 'tenantId' | 'scope' | 'resource'>;

export interface RefreshTokenFactsCache {
  /** After a login or a rotation: the token this instance just handed out, by digest. */
  remember(digest: string, session: RefreshTokenFacts): void;
  /** The facts of a token this instance handed out, forgotten as they are read (a token is spent once). */
  take(digest: string): RefreshTokenFacts | undefined;
  /** The same, left in place: for the refresh limit, which counts the token's session before the grant takes it. */
  peek(digest: string): RefreshTokenFacts | undefined;
}

export interface RefreshTokenFactsOptions {
  readonly maxEntries?: number;
  readonly ttlMs?: number;
  readonly now?: () => number;
}

/**
 * The facts of the refresh tokens this instance issued, so the usual refresh (a client presenting
 * the token it was given here) costs the rotation statement alone instead of a read before it.
 * A token issued elsewhere, evicted or older than `ttlMs` is read from the store as before.
 * Bounded: the oldest entry leaves when full.
 */
export function createRefreshTokenFactsCache(options: RefreshTokenFactsOptions = {}): RefreshTokenFactsCache {
  const maxEntries = options.maxEntries ?? 20_000;
  const ttlMs = options.ttlMs ?? 15 * 60_000;
  const now = options.now ?? Date.now;
  const entries = new Map<string, { facts: RefreshTokenFacts; expiresAt: number }>();
  return {
    remember(digest, session) {
      if (entries.size >= maxEntries) {
        const oldest = entries.keys().next();
        if (oldest.done !== true) entries.delete(oldest.value);
      }
      const { id, userId, clientId, tenantId, scope, resource } = session;
      entries.set(digest, { facts: Object.freeze({ id, userId, clientId, tenantId, scope, resource }), expiresAt: now() + ttlMs });
    },
    take(digest) {
      const entry = entries.get(digest);
      if (entry === undefined) return undefined;
      entries.delete(digest);
      return entry.expiresAt > now() ? entry.facts : undefined;
    },
    peek(digest) {
      const entry = entries.get(digest);
      return entry !== undefined && entry.expiresAt > now() ? entry.facts : undefined;
    },
  };
}
