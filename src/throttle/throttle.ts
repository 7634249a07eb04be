import type { EphemeralStore } from '../stores/ephemeral/ephemeral-store.js';
import { createMemoryStore } from '../stores/ephemeral/memory-store.js';
import { Limiter } from './limiter.js';
import type { LimitName, Limits } from './limit-spec.js';
import { createLoginThrottle, type LoginThrottle } from './login-throttle.js';
import { createRequestLimits, type RequestLimitDeps, type RequestLimits } from './request-limits.js';

export interface ThrottleOptions extends RequestLimitDeps {
  readonly limits: Limits;
  /** Where the counters live: the shared ephemeral store (Redis, or in process). */
  readonly store: EphemeralStore;
  /**
   * A failure of `store`. Each limit then counts in process (rate-limiter-flexible's insurance
   * limiter) until the store answers again: per instance, but never unthrottled and never refusing
   * everyone. Reported at most once a minute.
   */
  readonly onStoreError?: (error: unknown) => void;
  /** Epoch ms; `store`'s clock (tests inject both). */
  readonly now?: () => number;
}

export interface Throttle {
  readonly limits: Limits;
  readonly login: LoginThrottle;
  readonly requests: RequestLimits;
  close(): Promise<void>;
}

const REPORT_EVERY_MS = 60_000;

/**
 * Every limit of GATEHOUSE_LIMIT_*, built over one store; a limit set to `off` is absent.
 *
 * @example
 * const throttle = createThrottle({ limits: config.limits, store: ephemeral, sessionIdOfRefreshDigest });
 * const refusal = await throttle.requests.register(ip); // → 429 with Retry-After when defined
 */
export function createThrottle(options: ThrottleOptions): Throttle {
  const now = options.now ?? Date.now;
  const insuranceStore = createMemoryStore({ now });
  let lastReport = Number.NEGATIVE_INFINITY;
  const onStoreError = (error: unknown) => {
    const t = Date.now();
    if (t - lastReport < REPORT_EVERY_MS) return;
    lastReport = t;
    options.onStoreError?.(error);
  };
  const limiter = (name: LimitName) => {
    const spec = options.limits[name];
    return spec === null ? undefined : new Limiter(name, spec, { store: options.store, insuranceStore, onStoreError, now });
  };
  return {
    limits: options.limits,
    login: createLoginThrottle({ userIp: limiter('LOGIN_USER_IP'), user: limiter('LOGIN_USER'), ip: limiter('LOGIN_IP') }, options.store),
    requests: createRequestLimits(
      {
        globalIp: limiter('GLOBAL_IP'),
        registerIp: limiter('REGISTER_IP'),
        refreshSession: limiter('REFRESH_SESSION'),
        passwordChangeUser: limiter('PASSWORD_CHANGE_USER'),
        revokeIp: limiter('REVOKE_IP'),
      },
      options,
    ),
    close: () => insuranceStore.close(),
  };
}
