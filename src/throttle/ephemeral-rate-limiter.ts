import { createRequire } from 'node:module';
import type { RateLimiterRes as RateLimiterResClass, RateLimiterStoreAbstract as StoreAbstractClass } from 'rate-limiter-flexible';
import type { EphemeralStore } from '../stores/ephemeral/ephemeral-store.js';

/*
 * Why rate-limiter-flexible through our own store, not its RateLimiterMemory / RateLimiterRedis:
 * those are two code paths (the in-process one would be the one tests exercise, the Redis one the
 * one production runs), and RateLimiterRedis needs the raw ioredis client, which EphemeralStore
 * deliberately hides. Implementing the library's store contract on EphemeralStore gives one code
 * path whatever the store, atomic on both: a point is `EphemeralStore.increment` (INCR + PEXPIRE
 * on the first hit in one Lua script on Redis, a synchronous read-modify-write in process), the
 * same fixed-window algorithm RateLimiterRedis runs. The library keeps the limiter semantics
 * (points per duration, consume / penalty / get / block / delete, RateLimiterRes, the insurance
 * limiter used when the store fails).
 *
 * The store base class is not re-exported by the package index, hence the require of its file;
 * the version is pinned exactly in package.json and test/throttle/ephemeral-rate-limiter.test.ts
 * runs the contract, so an upgrade that moves it fails the tests rather than production.
 */
const require = createRequire(import.meta.url);
const RateLimiterStoreAbstract = require('rate-limiter-flexible/lib/RateLimiterStoreAbstract.js') as typeof StoreAbstractClass;
export const RateLimiterRes = require('rate-limiter-flexible/lib/RateLimiterRes.js') as typeof RateLimiterResClass;
export type RateLimiterRes = RateLimiterResClass;

interface StoredCounter {
  readonly value: number;
  readonly ttlMs: number;
}

export interface EphemeralRateLimiterOptions {
  readonly store: EphemeralStore;
  /** Namespaces the keys: `<keyPrefix>:<key>`. */
  readonly keyPrefix: string;
  readonly points: number;
  readonly durationSeconds: number;
  /** Answers instead of `store` when `store` fails (rate-limiter-flexible's insurance limiter). */
  readonly insurance?: EphemeralRateLimiter;
  /** Called with each store failure before the insurance limiter takes over. */
  readonly onStoreError?: (error: unknown) => void;
  /** Epoch ms; the same clock as `store`'s. */
  readonly now?: () => number;
}

/**
 * A rate-limiter-flexible limiter whose counters live in an {@link EphemeralStore}.
 *
 * What EphemeralStore cannot do atomically is refused rather than emulated: only single points are
 * consumed (`consume(key)`, `penalty(key)`; no `reward`), and durations must be finite. Reads do
 * not return a key's remaining time, so a key written by `block` or `set` carries its end time in
 * a companion entry `<key>:until`; `get` on a counter that was only incremented reports the full
 * duration as an upper bound.
 *
 * @example
 * const limiter = new EphemeralRateLimiter({ store, keyPrefix: 'throttle:register_ip', points: 100, durationSeconds: 3600 });
 * await limiter.consume(clientKey); // rejects with a RateLimiterRes past 100 within the hour
 */
export class EphemeralRateLimiter extends RateLimiterStoreAbstract {
  readonly #store: EphemeralStore;
  readonly #now: () => number;
  readonly #onStoreError: ((error: unknown) => void) | undefined;

  constructor(options: EphemeralRateLimiterOptions) {
    if (!Number.isSafeInteger(options.points) || options.points <= 0) throw new TypeError('points must be a positive whole number');
    if (!Number.isSafeInteger(options.durationSeconds) || options.durationSeconds <= 0) throw new TypeError('durationSeconds must be a positive whole number');
    super({
      storeClient: options.store,
      keyPrefix: options.keyPrefix,
      points: options.points,
      duration: options.durationSeconds,
      ...(options.insurance === undefined ? {} : { insuranceLimiter: options.insurance }),
    });
    this.#store = options.store;
    this.#now = options.now ?? Date.now;
    this.#onStoreError = options.onStoreError;
  }

  async #run<T>(operation: () => Promise<T>): Promise<T> {
    try {
      return await operation();
    } catch (error) {
      if (!(error instanceof TypeError)) this.#onStoreError?.(error);
      throw error;
    }
  }

  /** The store half of consume / penalty (points = 1) and of block / set (forceExpire). */
  async _upsert(rlKey: string, points: number, msDuration: number, forceExpire = false): Promise<StoredCounter> {
    if (!Number.isSafeInteger(msDuration) || msDuration <= 0) throw new TypeError('EphemeralRateLimiter: durations must be finite and positive');
    if (forceExpire) {
      if (!Number.isSafeInteger(points)) throw new TypeError('EphemeralRateLimiter: points must be a whole number');
      const until = this.#now() + msDuration;
      return this.#run(async () => {
        await Promise.all([this.#store.set(rlKey, String(points), msDuration), this.#store.set(`${rlKey}:until`, String(until), msDuration)]);
        return { value: points, ttlMs: msDuration };
      });
    }
    if (points !== 1) throw new TypeError('EphemeralRateLimiter: only one point at a time is atomic on EphemeralStore');
    return this.#run(async () => {
      const { value, ttlMs } = await this.#store.increment(rlKey, msDuration);
      return { value, ttlMs };
    });
  }

  /**
   * Makes sure the key's counter exists (at 0 if new) without counting anything, so that a failure
   * recorded later is an update, which a full bounded store still accepts. The window then runs from
   * the reservation rather than from the first failure.
   */
  async reserve(key: string): Promise<void> {
    await this.#run(() => this.#store.setIfAbsent(this.getKey(key), '0', this.msDuration));
  }

  async _get(rlKey: string): Promise<StoredCounter | null> {
    return this.#run(async () => {
      const [value, until] = await Promise.all([this.#store.get(rlKey), this.#store.get(`${rlKey}:until`)]);
      if (value === undefined) return null;
      const remaining = until === undefined ? this.msDuration : Number(until) - this.#now();
      return { value: Number(value), ttlMs: Number.isFinite(remaining) ? Math.max(1, remaining) : this.msDuration };
    });
  }

  async _delete(rlKey: string): Promise<boolean> {
    return this.#run(async () => {
      const existed = (await this.#store.get(rlKey)) !== undefined;
      await Promise.all([this.#store.delete(rlKey), this.#store.delete(`${rlKey}:until`)]);
      return existed;
    });
  }

  _getRateLimiterRes(_rlKey: string, changedPoints: number, stored: StoredCounter): RateLimiterRes {
    return new RateLimiterRes(Math.max(this.points - stored.value, 0), stored.ttlMs, stored.value, stored.value === changedPoints);
  }
}
