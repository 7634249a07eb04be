import { StoreUnavailableError } from '../../errors/errors.js';
import { assertTtlMs, notACounterError, type ChannelListener, type EphemeralStore } from './ephemeral-store.js';

export interface MemoryStoreOptions {
  /** Clock in epoch milliseconds; tests inject one instead of sleeping. */
  now?: () => number;
  /** Live entries allowed at once (default 100 000). */
  maxEntries?: number;
}

interface Entry {
  value: string;
  expiresAt: number;
}

const DEFAULT_MAX_ENTRIES = 100_000;
const SWEEP_INTERVAL_MS = 30_000;
const INTEGER = /^-?(0|[1-9][0-9]*)$/;

/**
 * The embedded {@link EphemeralStore}: one process, no persistence. For development, tests and
 * single-instance deployments; several instances need Redis, or each keeps its own deny-list.
 *
 * Expired entries read as absent and are dropped when touched, plus a periodic sweep so keys
 * nobody reads again do not pile up.
 *
 * When `maxEntries` live entries exist, creating another rejects with `StoreUnavailableError`
 * instead of evicting: evicting a deny-list entry would silently un-revoke a token, and evicting a
 * counter would reset a rate limit, so an attacker who can mint keys must not be able to push
 * entries out. Updating an existing key always works.
 *
 * @example
 * const store = createMemoryStore();
 * await store.set('revoked:jti-1', '1', 15 * 60_000);
 */
export function createMemoryStore(options: MemoryStoreOptions = {}): EphemeralStore {
  const now = options.now ?? Date.now;
  const maxEntries = options.maxEntries ?? DEFAULT_MAX_ENTRIES;
  if (!Number.isSafeInteger(maxEntries) || maxEntries <= 0) {
    throw new TypeError(`maxEntries must be a positive whole number (got ${String(maxEntries)})`);
  }
  const entries = new Map<string, Entry>();
  let closed = false;
  const channels = new Map<string, Set<ChannelListener>>();

  const sweep = (): void => {
    const t = now();
    for (const [key, entry] of entries) {
      if (entry.expiresAt <= t) entries.delete(key);
    }
  };
  const sweeper = setInterval(sweep, SWEEP_INTERVAL_MS);
  // The sweep is housekeeping: it must never keep the process alive.
  sweeper.unref();

  const ensureOpen = (): void => {
    if (closed) throw new StoreUnavailableError('memory ephemeral store is closed');
  };

  const live = (key: string): Entry | undefined => {
    const entry = entries.get(key);
    if (entry === undefined) return undefined;
    if (entry.expiresAt <= now()) {
      entries.delete(key);
      return undefined;
    }
    return entry;
  };

  /** Makes room for one new key, or refuses (see the doc comment on why we never evict). */
  const reserveSlot = (): void => {
    if (entries.size < maxEntries) return;
    sweep();
    if (entries.size >= maxEntries) {
      throw new StoreUnavailableError(`memory ephemeral store is full (maxEntries=${maxEntries})`);
    }
  };

  // Each method is synchronous between its read and its write, so on one event loop the
  // check-then-set of setIfAbsent and the read-modify-write of increment are atomic.
  return {
    kind: 'memory',

    async set(key, value, ttlMs) {
      ensureOpen();
      assertTtlMs(ttlMs);
      if (live(key) === undefined) reserveSlot();
      entries.set(key, { value, expiresAt: now() + ttlMs });
    },

    async setIfAbsent(key, value, ttlMs) {
      ensureOpen();
      assertTtlMs(ttlMs);
      if (live(key) !== undefined) return false;
      reserveSlot();
      entries.set(key, { value, expiresAt: now() + ttlMs });
      return true;
    },

    async get(key) {
      ensureOpen();
      return live(key)?.value;
    },

    async delete(key) {
      ensureOpen();
      entries.delete(key);
    },

    async increment(key, ttlMs) {
      ensureOpen();
      assertTtlMs(ttlMs);
      const t = now();
      const entry = live(key);
      if (entry === undefined) {
        reserveSlot();
        entries.set(key, { value: '1', expiresAt: t + ttlMs });
        return { value: 1, ttlMs };
      }
      const current = INTEGER.test(entry.value) ? Number(entry.value) : Number.NaN;
      if (!Number.isSafeInteger(current + 1)) throw notACounterError();
      entry.value = String(current + 1);
      return { value: current + 1, ttlMs: entry.expiresAt - t };
    },

    async ping() {
      ensureOpen();
    },

    async publish(channel, message) {
      ensureOpen();
      // Asynchronous like Redis, so no caller can come to rely on synchronous delivery.
      for (const listener of [...(channels.get(channel) ?? [])]) queueMicrotask(() => listener.onMessage(message));
    },

    async subscribe(channel, listener) {
      ensureOpen();
      const listeners = channels.get(channel) ?? new Set<ChannelListener>();
      channels.set(channel, listeners);
      listeners.add(listener);
      return {
        // One process cannot miss its own messages. Wall clock, not the injected one: callers
        // compare liveness with Date.now().
        confirmedAt: () => Date.now(),
        async close() {
          listeners.delete(listener);
        },
      };
    },

    async close() {
      closed = true;
      channels.clear();
      clearInterval(sweeper);
      entries.clear();
    },
  };
}
