import { StoreUnavailableError } from '../../errors/errors.js';
import { assertTtlMs, notACounterError, type ChannelListener, type EphemeralStore } from './ephemeral-store.js';
import { ExpiryQueues, type QueuedEntry } from './expiry-queues.js';

/**
 * What a new key meets when the store holds `maxEntries` live entries (expired ones are always
 * reclaimed first):
 * - `refuse`: the write rejects with `StoreUnavailableError`; every live entry stays. For state
 *   whose loss would loosen a decision (a failure counter: losing it lets the guessing start over).
 * - `evict`: the live entry closest to its expiry goes. For state whose loss only ever grants its
 *   own key what a fresh key gets anyway (a per-address request counter) or tightens a decision.
 */
export type WhenFull = 'refuse' | 'evict';

export interface MemoryStoreOptions {
  /** Clock in epoch milliseconds; tests inject one instead of sleeping. */
  now?: () => number;
  /** Live entries allowed at once (default 100 000). */
  maxEntries?: number;
  /** Default `refuse`. */
  whenFull?: WhenFull;
}

export interface MemoryStoreStats {
  readonly entries: number;
  /**
   * Entries looked at other than the one an operation names (expiry and eviction), since the store
   * was created. Grows by a constant per operation, never by the store's size.
   */
  readonly examined: number;
}

/** The in-process store, with what only it can tell. */
export interface MemoryStore extends EphemeralStore {
  readonly kind: 'memory';
  stats(): MemoryStoreStats;
}

const DEFAULT_MAX_ENTRIES = 100_000;
const SWEEP_INTERVAL_MS = 30_000;
const INTEGER = /^-?(0|[1-9][0-9]*)$/;

/**
 * The embedded {@link EphemeralStore}: one process, no persistence. For development, tests and
 * single-instance deployments; several instances need Redis, or each keeps its own state.
 *
 * At most `maxEntries` live entries; `whenFull` says what a new key meets beyond that. Every
 * operation is O(1): entries sit in expiry-ordered queues, one per ttl ({@link ExpiryQueues}), so
 * making room looks at the queue heads only (as many as there are distinct ttls in use, a handful
 * for any one caller), and the periodic sweep takes expired heads, never walking live entries. A
 * clock that steps back can leave an expired entry behind a live head until it is read or reaches
 * the head: reads still see it expired.
 *
 * @example
 * const store = createMemoryStore({ maxEntries: 10_000, whenFull: 'refuse' });
 * await store.increment('throttle:login_ip:abc', 15 * 60_000);
 */
export function createMemoryStore(options: MemoryStoreOptions = {}): MemoryStore {
  const now = options.now ?? Date.now;
  const maxEntries = options.maxEntries ?? DEFAULT_MAX_ENTRIES;
  const whenFull = options.whenFull ?? 'refuse';
  if (!Number.isSafeInteger(maxEntries) || maxEntries <= 0) {
    throw new TypeError(`maxEntries must be a positive whole number (got ${String(maxEntries)})`);
  }
  if (whenFull !== 'refuse' && whenFull !== 'evict') throw new TypeError(`whenFull must be "refuse" or "evict" (got ${String(whenFull)})`);
  const entries = new Map<string, QueuedEntry>();
  const queues = new ExpiryQueues();
  let examined = 0;
  let closed = false;
  const channels = new Map<string, Set<ChannelListener>>();

  const remove = (entry: QueuedEntry): void => {
    entries.delete(entry.key);
    queues.unlink(entry);
  };

  const write = (key: string, value: string, ttlMs: number, t: number): void => {
    const previous = entries.get(key);
    if (previous !== undefined) remove(previous);
    const entry: QueuedEntry = { key, value, expiresAt: t + ttlMs, ttlMs, prev: undefined, next: undefined };
    entries.set(key, entry);
    queues.append(entry);
  };

  const sweep = (): void => {
    for (const entry of queues.drainExpired(now())) {
      examined++;
      entries.delete(entry.key);
    }
  };
  const sweeper = setInterval(sweep, SWEEP_INTERVAL_MS);
  // The sweep is housekeeping: it must never keep the process alive.
  sweeper.unref();

  const ensureOpen = (): void => {
    if (closed) throw new StoreUnavailableError('memory ephemeral store is closed');
  };

  const live = (key: string, t: number): QueuedEntry | undefined => {
    const entry = entries.get(key);
    if (entry === undefined) return undefined;
    if (entry.expiresAt <= t) {
      remove(entry);
      return undefined;
    }
    return entry;
  };

  /** Makes room for one new key: an expired entry goes, else the policy decides. */
  const reserveSlot = (t: number): void => {
    while (entries.size >= maxEntries) {
      examined += queues.count;
      const first = queues.soonest();
      if (first === undefined) return;
      if (first.expiresAt > t && whenFull === 'refuse') {
        throw new StoreUnavailableError(`memory ephemeral store is full (maxEntries=${maxEntries})`);
      }
      remove(first);
    }
  };

  // Each method is synchronous between its read and its write, so on one event loop the
  // check-then-set of setIfAbsent, the read-then-delete of take and the read-modify-write of increment
  // are atomic.
  return {
    kind: 'memory',

    async set(key, value, ttlMs) {
      ensureOpen();
      assertTtlMs(ttlMs);
      const t = now();
      if (live(key, t) === undefined) reserveSlot(t);
      write(key, value, ttlMs, t);
    },

    async setIfAbsent(key, value, ttlMs) {
      ensureOpen();
      assertTtlMs(ttlMs);
      const t = now();
      if (live(key, t) !== undefined) return false;
      reserveSlot(t);
      write(key, value, ttlMs, t);
      return true;
    },

    async get(key) {
      ensureOpen();
      return live(key, now())?.value;
    },

    async take(key) {
      ensureOpen();
      const entry = live(key, now());
      if (entry === undefined) return undefined;
      remove(entry);
      return entry.value;
    },

    async delete(key) {
      ensureOpen();
      const entry = entries.get(key);
      if (entry !== undefined) remove(entry);
    },

    async increment(key, ttlMs) {
      ensureOpen();
      assertTtlMs(ttlMs);
      const t = now();
      const entry = live(key, t);
      if (entry === undefined) {
        reserveSlot(t);
        write(key, '1', ttlMs, t);
        return { value: 1, ttlMs };
      }
      const current = INTEGER.test(entry.value) ? Number(entry.value) : Number.NaN;
      if (!Number.isSafeInteger(current + 1)) throw notACounterError();
      // In place: an existing key keeps its expiry, so it keeps its place in its queue.
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
        lost: () => false,
        async close() {
          listeners.delete(listener);
        },
      };
    },

    stats: () => ({ entries: entries.size, examined }),

    async close() {
      closed = true;
      channels.clear();
      clearInterval(sweeper);
      entries.clear();
      queues.clear();
    },
  };
}
