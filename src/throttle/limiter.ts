import type { EphemeralStore } from '../stores/ephemeral/ephemeral-store.js';
import { RateLimiterRes } from './ephemeral-rate-limiter.js';
import { InsuredCounter, isStoreFailure, type Reading } from './insured-counter.js';
import type { LimitName, LimitSpec } from './limit-spec.js';

/** Why a request is refused, for the log; the client only ever sees the same 429. */
export interface Refusal {
  readonly limit: LimitName;
  /** How long until the request could succeed; becomes `Retry-After` (whole seconds, rounded up). */
  readonly retryAfterMs: number;
}

/** The longest a failure counter ever blocks (unless its own window is longer). */
export const BACKOFF_CAP_MS = 3_600_000;
/**
 * How long a key's strikes (the times it reached its limit) are remembered, from its first strike:
 * long enough that a persistent attacker climbs to the cap (15 m, 30 m, 1 h, 1 h, … for 10/15m),
 * short enough that an address shared by many people which tripped once is forgotten the same day.
 */
export const STRIKE_MEMORY_SECONDS = 6 * 3_600;

/** While only attempts in flight fill the budget, the answer is known within about a second. */
const IN_FLIGHT_RETRY_MS = 1_000;
/** Keys this instance remembers as refused; past it, expired ones go, then all (the store still knows). */
const MAX_REMEMBERED_REFUSALS = 10_000;

export interface LimiterDeps {
  /** Where the counters live: the shared store (Redis), or this limit's own in-process one. */
  readonly store: EphemeralStore;
  /**
   * Counts instead when `store` fails, so limits still hold per instance during an outage; absent
   * when `store` is in process itself. Every check reads both, so a failure counted here is seen.
   */
  readonly insuranceStore?: EphemeralStore | undefined;
  readonly onStoreError: (error: unknown) => void;
  readonly now: () => number;
}

/**
 * One named limit over rate-limiter-flexible counters. Two ways to count:
 * - requests (`consume`): every request counts; the (count + 1)th within the window is refused
 *   until the window ends. No backoff: an honest client that overshoots waits a known time.
 * - failures (`check` and `reserve` before the attempt, `recordFailure` after it): exponential
 *   backoff. When a failure brings the counter to `count`, the key is blocked for one window; every
 *   further failure (possible only once that block has ended) doubles the block:
 *   window × 2^(strikes − 1), capped at {@link BACKOFF_CAP_MS} (or the window, if longer). Strikes
 *   live in their own counter, forgotten {@link STRIKE_MEMORY_SECONDS} after the first one, so the
 *   block is temporary, never a lockout. The block is rate-limiter-flexible's `block`: the counter
 *   set past `count` for that long.
 *
 * Fails closed: when no store can hold or read a counter (a bounded in-process store full of live
 * counters, or Redis down and the insurance full), the answer is a Refusal for one window, never a
 * request let through uncounted.
 */
export class Limiter {
  readonly name: LimitName;
  readonly spec: LimitSpec;
  readonly #counter: InsuredCounter;
  readonly #strikes: InsuredCounter;
  readonly #now: () => number;
  readonly #onStoreError: (error: unknown) => void;
  /**
   * Request limits only: key → end of its window, once the store refused it. Nothing lowers a
   * request counter before its window ends, so until then this instance answers from memory and a
   * flood costs no store round trip (rate-limiter-flexible's in-memory block, on our clock).
   */
  readonly #refusedUntil = new Map<string, number>();

  constructor(name: LimitName, spec: LimitSpec, deps: LimiterDeps) {
    this.name = name;
    this.spec = spec;
    this.#now = deps.now;
    this.#onStoreError = deps.onStoreError;
    const prefix = `throttle:${name.toLowerCase()}`;
    const counter = (keyPrefix: string, points: number, durationSeconds: number) =>
      new InsuredCounter({
        store: deps.store,
        insurance: deps.insuranceStore,
        keyPrefix,
        points,
        durationSeconds,
        now: deps.now,
        onStoreError: deps.onStoreError,
      });
    this.#counter = counter(prefix, spec.count, spec.windowSeconds);
    this.#strikes = counter(`${prefix}:strikes`, Number.MAX_SAFE_INTEGER, Math.max(STRIKE_MEMORY_SECONDS, spec.windowSeconds));
  }

  /** Counts one request; a Refusal when it is over the limit or cannot be counted. */
  async consume(key: string): Promise<Refusal | undefined> {
    const until = this.#refusedUntil.get(key);
    if (until !== undefined) {
      const left = until - this.#now();
      if (left > 0) return this.#refusal(left);
      this.#refusedUntil.delete(key);
    }
    try {
      await this.#counter.consume(key);
      return undefined;
    } catch (error) {
      if (!(error instanceof RateLimiterRes)) return this.#uncountable(error);
      this.#rememberRefusal(key, error.msBeforeNext);
      return this.#refusal(error.msBeforeNext);
    }
  }

  #rememberRefusal(key: string, msBeforeNext: number): void {
    if (this.#refusedUntil.size >= MAX_REMEMBERED_REFUSALS) {
      const t = this.#now();
      for (const [k, until] of this.#refusedUntil) if (until <= t) this.#refusedUntil.delete(k);
      if (this.#refusedUntil.size >= MAX_REMEMBERED_REFUSALS) this.#refusedUntil.clear();
    }
    this.#refusedUntil.set(key, this.#now() + msBeforeNext);
  }

  /**
   * Reads, counts nothing: a Refusal while the failures recorded (plus `inFlight` attempts not yet
   * decided) have reached the limit, or when they cannot be read.
   */
  async check(key: string, inFlight = 0): Promise<Refusal | undefined> {
    let recorded: Reading | null;
    try {
      recorded = await this.#counter.read(key);
    } catch (error) {
      return this.#uncountable(error);
    }
    const failures = recorded?.consumed ?? 0;
    if (failures + inFlight < this.spec.count) return undefined;
    return this.#refusal(recorded !== null && failures >= this.spec.count ? recorded.msBeforeNext : IN_FLIGHT_RETRY_MS);
  }

  /**
   * Before an attempt `check` let through: makes sure its failure can be recorded (the counter
   * exists, so recording it is an update). A Refusal when there is no room for it: an attempt whose
   * failure would go uncounted is an unthrottled guess.
   */
  async reserve(key: string): Promise<Refusal | undefined> {
    try {
      await this.#counter.reserve(key);
      return undefined;
    } catch (error) {
      return this.#uncountable(error);
    }
  }

  /** Counts one failure, and blocks with backoff once the limit is reached (see the class comment). */
  async recordFailure(key: string): Promise<void> {
    await this.#counter.penalty(key);
    const [counted, strikes] = await Promise.all([this.#counter.read(key), this.#strikes.read(key)]);
    if ((counted?.consumed ?? 0) < this.spec.count && strikes === null) return;
    try {
      // The strike this is, wherever earlier strikes were counted.
      const strike = Math.max(await this.#strikes.penalty(key), (strikes?.consumed ?? 0) + 1);
      await this.#counter.block(key, backoffMs(this.spec.windowSeconds * 1000, strike) / 1000);
    } catch (error) {
      // No room for the strike or the block's end: the counter, at the limit, refuses the key for the
      // rest of its window all the same; only the backoff beyond it is lost.
      if (!isStoreFailure(error)) throw error;
      this.#onStoreError(error);
    }
  }

  /**
   * After the last attempt on a key ended: a counter `reserve` made that still holds no failure is
   * dropped, so attempts that succeed (or end without a failure) leave nothing that takes room in a
   * bounded store. A failure that races this delete is counted again by the next `recordFailure`.
   */
  async releaseIfUnused(key: string): Promise<void> {
    try {
      const recorded = await this.#counter.read(key);
      if (recorded !== null && recorded.consumed === 0) await this.#counter.delete(key);
    } catch (error) {
      if (!isStoreFailure(error)) throw error;
      this.#onStoreError(error);
    }
  }

  /** Forgets the key's failures and strikes (a successful login from that place). */
  async reset(key: string): Promise<void> {
    await Promise.all([this.#counter.delete(key), this.#strikes.delete(key)]);
  }

  #uncountable(error: unknown): Refusal {
    if (!isStoreFailure(error)) throw error;
    this.#onStoreError(error);
    return this.#refusal(this.spec.windowSeconds * 1000);
  }

  #refusal(msBeforeNext: number): Refusal {
    return { limit: this.name, retryAfterMs: Math.max(1, msBeforeNext) };
  }
}

/** window × 2^(strike − 1), at most the cap, never less than the window; whole seconds. */
export function backoffMs(windowMs: number, strike: number): number {
  const doubled = windowMs * 2 ** Math.min(Math.max(strike, 1) - 1, 32);
  return Math.max(windowMs, Math.min(doubled, BACKOFF_CAP_MS));
}
