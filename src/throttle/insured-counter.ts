import type { EphemeralStore } from '../stores/ephemeral/ephemeral-store.js';
import { EphemeralRateLimiter, RateLimiterRes } from './ephemeral-rate-limiter.js';

/** A counter as read from every place it may have been written. */
export interface Reading {
  /** The points counted, summed over the places. */
  readonly consumed: number;
  /** The longest wait any place reports. */
  readonly msBeforeNext: number;
}

export interface InsuredCounterOptions {
  readonly store: EphemeralStore;
  /** Counts instead when `store` fails; absent when `store` is in process itself. */
  readonly insurance?: EphemeralStore | undefined;
  readonly keyPrefix: string;
  readonly points: number;
  readonly durationSeconds: number;
  readonly now: () => number;
  /** A failure of `store` that the insurance answered for. */
  readonly onStoreError: (error: unknown) => void;
}

/**
 * A store failed: not the limiter's own refusal (a RateLimiterRes) nor a caller mistake (TypeError).
 *
 * @example
 * if (isStoreFailure(error)) return refuseForNow();
 */
export function isStoreFailure(error: unknown): boolean {
  return !(error instanceof RateLimiterRes) && !(error instanceof TypeError);
}

/**
 * One keyspace of counters on a store with an in-process insurance store beside it. A write goes
 * to the store, or to the insurance when the store fails; a read sums both. rate-limiter-flexible's
 * own insurance falls over per call, so a check that read the store while the failure before it was
 * counted by the insurance saw nothing of it: here what any write counted, every read sees.
 *
 * @example
 * const failures = new InsuredCounter({ store: redis, insurance: local, keyPrefix: 'throttle:login_ip', points: 100, durationSeconds: 900, now, onStoreError });
 * await failures.penalty(key);
 * (await failures.read(key))?.consumed; // 1
 */
export class InsuredCounter {
  readonly #store: EphemeralRateLimiter;
  readonly #insurance: EphemeralRateLimiter | undefined;
  readonly #onStoreError: (error: unknown) => void;

  constructor(options: InsuredCounterOptions) {
    const on = (store: EphemeralStore) =>
      new EphemeralRateLimiter({ store, keyPrefix: options.keyPrefix, points: options.points, durationSeconds: options.durationSeconds, now: options.now });
    this.#store = on(options.store);
    this.#insurance = options.insurance === undefined ? undefined : on(options.insurance);
    this.#onStoreError = options.onStoreError;
  }

  /** On the store; on the insurance if the store fails. Without insurance, the failure is the caller's. */
  async #write<T>(operation: (limiter: EphemeralRateLimiter) => Promise<T>): Promise<T> {
    try {
      return await operation(this.#store);
    } catch (error) {
      if (this.#insurance === undefined || !isStoreFailure(error)) throw error;
      this.#onStoreError(error);
      return operation(this.#insurance);
    }
  }

  /** On both; a failing store is tolerated when the insurance answered. */
  async #everywhere<T>(operation: (limiter: EphemeralRateLimiter) => Promise<T>): Promise<(T | undefined)[]> {
    const insurance = this.#insurance;
    if (insurance === undefined) return [await operation(this.#store)];
    const fromStore = operation(this.#store).catch((error: unknown) => {
      if (!isStoreFailure(error)) throw error;
      this.#onStoreError(error);
      return undefined;
    });
    return Promise.all([fromStore, operation(insurance)]);
  }

  async read(key: string): Promise<Reading | null> {
    const found = (await this.#everywhere((l) => l.get(key))).filter((r): r is RateLimiterRes => r !== undefined && r !== null);
    if (found.length === 0) return null;
    return { consumed: found.reduce((sum, r) => sum + r.consumedPoints, 0), msBeforeNext: Math.max(...found.map((r) => r.msBeforeNext)) };
  }

  /** Counts one request; rejects with a RateLimiterRes past `points`. */
  async consume(key: string): Promise<void> {
    await this.#write((l) => l.consume(key));
  }

  /** Counts one point; the count in the place that took it. */
  async penalty(key: string): Promise<number> {
    return (await this.#write((l) => l.penalty(key))).consumedPoints;
  }

  async block(key: string, seconds: number): Promise<void> {
    await this.#write((l) => l.block(key, seconds));
  }

  /** See {@link EphemeralRateLimiter.reserve}. */
  async reserve(key: string): Promise<void> {
    await this.#write((l) => l.reserve(key));
  }

  async delete(key: string): Promise<void> {
    await this.#everywhere((l) => l.delete(key));
  }
}
