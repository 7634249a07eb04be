import type { UserRecord, UserStore } from './user-store.js';

export interface CachedUserStoreOptions {
  /** How long another instance's change may go unseen here. */
  readonly ttlMs?: number;
  readonly maxEntries?: number;
  readonly now?: () => number;
}

/**
 * A read-through cache of users by id, so authenticating a request does not cost a database round
 * trip (on PGlite a lookup blocks the event loop for most of a millisecond).
 *
 * Invariant: a change made through this store is seen by this instance at once (the entry is
 * dropped on every write); a change made by another instance is seen within `ttlMs` (default 1 s).
 * Only users that exist are cached, so unknown ids always reach the store.
 */
export function createCachedUserStore(inner: UserStore, options: CachedUserStoreOptions = {}): UserStore & { invalidate(id: string): void } {
  const ttlMs = options.ttlMs ?? 1000;
  const maxEntries = options.maxEntries ?? 50_000;
  const now = options.now ?? Date.now;
  const entries = new Map<string, { user: UserRecord; expiresAt: number }>();
  const invalidate = (id: string) => {
    entries.delete(id);
  };

  return {
    invalidate,
    async findById(id) {
      const entry = entries.get(id);
      if (entry !== undefined && entry.expiresAt > now()) return entry.user;
      const user = await inner.findById(id);
      entries.delete(id);
      if (user === undefined) return undefined;
      if (entries.size >= maxEntries) {
        const oldest = entries.keys().next();
        if (oldest.done !== true) entries.delete(oldest.value);
      }
      entries.set(id, { user, expiresAt: now() + ttlMs });
      return user;
    },
    findByUsernameKey: (key) => inner.findByUsernameKey(key),
    findByVerifiedEmailKey: (key) => inner.findByVerifiedEmailKey(key),
    create: (user, audit) => inner.create(user, audit),
    async replacePasswordHash(id, expected, next, audit) {
      invalidate(id);
      try {
        return await inner.replacePasswordHash(id, expected, next, audit);
      } finally {
        invalidate(id);
      }
    },
    async confirmEmail(id, email, expectedCurrent, now, audit) {
      invalidate(id);
      try {
        return await inner.confirmEmail(id, email, expectedCurrent, now, audit);
      } finally {
        invalidate(id);
      }
    },
    async revokeAllTokens(id, now, audit) {
      invalidate(id);
      try {
        return await inner.revokeAllTokens(id, now, audit);
      } finally {
        invalidate(id);
      }
    },
    async delete(id) {
      invalidate(id);
      try {
        return await inner.delete(id);
      } finally {
        invalidate(id);
      }
    },
  };
}
