/**
 * Short-lived state: revocation deny-lists, rate-limit counters, one-time tickets.
 * Every entry expires; nothing here is a system of record.
 *
 * Two implementations pass the same contract suite (`test/stores/ephemeral-store.test.ts`):
 * an in-process Map (`memory-store.ts`) and Redis (`redis-store.ts`). Atomic operations are
 * atomic in both, so callers never need a lock.
 *
 * Failure contract: when the backing store cannot answer, every method rejects with
 * `StoreUnavailableError`; callers decide whether to fail closed. Caller mistakes (a ttl that
 * is not a positive whole number of milliseconds) throw `TypeError`.
 *
 * @example
 * const first = await store.setIfAbsent(`ticket:${id}`, '1', 60_000);
 * if (!first) throw new InvalidGrantError('ticket replayed');
 */
export interface EphemeralStore {
  readonly kind: 'memory' | 'redis';
  /** Sets key to value; it disappears after ttlMs. */
  set(key: string, value: string, ttlMs: number): Promise<void>;
  /** Sets only if absent (atomic). true when this call created it. */
  setIfAbsent(key: string, value: string, ttlMs: number): Promise<boolean>;
  get(key: string): Promise<string | undefined>;
  /**
   * Reads and deletes the key in one atomic step (Redis `GETDEL`): of any number of concurrent
   * takes of one key, across every instance on this store, exactly one gets the value; the others
   * get undefined. For single-use secrets (WebSocket tickets), where a get then a delete would let
   * two racing redeemers both succeed.
   */
  take(key: string): Promise<string | undefined>;
  delete(key: string): Promise<void>;
  /** Atomically adds 1; a new key starts at 1 and expires after ttlMs; an existing key keeps its expiry. */
  increment(key: string, ttlMs: number): Promise<{ value: number; ttlMs: number }>;
  /** Throws StoreUnavailableError when the store cannot answer. */
  ping(): Promise<void>;
  /** Delivers `message` to every subscriber of `channel` (every instance on this store). At most once. */
  publish(channel: string, message: string): Promise<void>;
  /**
   * Listens on `channel` until the subscription is closed. Pub/sub delivers at most once and drops
   * messages sent while a subscriber is disconnected; `confirmedAt`, `lost` and `onResubscribed` let
   * the caller notice that and catch up from its system of record.
   */
  subscribe(channel: string, listener: ChannelListener): Promise<Subscription>;
  close(): Promise<void>;
}

export interface ChannelListener {
  onMessage(message: string): void;
  /** The subscription was lost and is live again: messages may have been missed in between. */
  onResubscribed(): void;
}

export interface Subscription {
  /** Epoch ms when the subscription was last known to be live (in process: always now). */
  confirmedAt(): number;
  /**
   * True from the moment its connection is known gone (closed, e.g. Redis died) until the
   * subscription is renewed (in process: never): messages are being missed now, whatever
   * `confirmedAt` says. A link that goes silent without closing shows only in `confirmedAt`.
   */
  lost(): boolean;
  close(): Promise<void>;
}

/** Redis `PX` accepts only positive integers; both stores refuse anything else the same way. */
export function assertTtlMs(ttlMs: number): void {
  if (!Number.isSafeInteger(ttlMs) || ttlMs <= 0) {
    throw new TypeError(`ttlMs must be a positive whole number of milliseconds (got ${String(ttlMs)})`);
  }
}

/** Thrown by `increment` when the key holds something other than a counter: a caller bug, not an outage. */
export function notACounterError(): TypeError {
  return new TypeError('increment: the key holds a value that is not an integer counter');
}
