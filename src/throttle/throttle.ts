import type { EphemeralStore } from '../stores/ephemeral/ephemeral-store.js';
import { createMemoryStore, type MemoryStore, type WhenFull } from '../stores/ephemeral/memory-store.js';
import { Limiter } from './limiter.js';
import type { LimitName, Limits } from './limit-spec.js';
import { createLoginThrottle, type LoginThrottle } from './login-throttle.js';
import { createSecondFactorThrottle, type SecondFactorThrottle } from './second-factor-throttle.js';
import { createRequestLimits, type RequestLimitDeps, type RequestLimits } from './request-limits.js';

export interface ThrottleOptions extends RequestLimitDeps {
  readonly limits: Limits;
  /**
   * The store every instance shares (Redis). Without it, every counter lives in process. Either
   * way each limit also has its own bounded in-process store: the counters themselves when there is
   * no shared store, the insurance when the shared one fails (each limit then counts in process
   * until it answers again: per instance, but never unthrottled). Reported at most once a minute.
   */
  readonly shared?: EphemeralStore | undefined;
  /** Live entries each limit's in-process store holds at most (default {@link DEFAULT_LOCAL_CAPACITY}). */
  readonly localCapacity?: number;
  readonly onStoreError?: (error: unknown) => void;
  /** Epoch ms; the stores' clock (tests inject both). */
  readonly now?: () => number;
}

export interface Throttle {
  readonly limits: Limits;
  readonly login: LoginThrottle;
  readonly requests: RequestLimits;
  /** Wrong second-factor codes per account (GATEHOUSE_LIMIT_OTP_USER). */
  readonly secondFactor: SecondFactorThrottle;
  close(): Promise<void>;
}

const REPORT_EVERY_MS = 60_000;
/** Per limit: a few tens of MB at most for all of them together, far above any honest traffic in one window. */
export const DEFAULT_LOCAL_CAPACITY = 100_000;

/**
 * Limits that guard a secret against guessing. Pushing out one of their counters would let the
 * guessing start over (a flood of fresh usernames evicting alice's failures), so their stores never
 * evict a live entry: when one is full, the attempt is refused instead (see `Limiter`). The other
 * limits count requests per address or session against floods; losing such a counter only gives its
 * key the fresh budget that each of the flood's own new keys had anyway, so theirs evict the entry
 * closest to expiry and a flood of new addresses never refuses anyone else.
 */
const GUARDS: ReadonlySet<LimitName> = new Set<LimitName>(['LOGIN_USER_IP', 'LOGIN_USER', 'LOGIN_IP', 'PASSWORD_CHANGE_USER', 'OTP_USER']);

/**
 * Every limit of GATEHOUSE_LIMIT_*; a limit set to `off` is absent. Each limit has its own
 * in-process capacity, so filling one keyspace (new addresses at the register route) cannot crowd
 * out another's counters (failed logins).
 *
 * @example
 * const throttle = createThrottle({ limits: config.limits, shared: redis, sessionIdOfRefreshDigest });
 * const refusal = await throttle.requests.register(ip); // → 429 with Retry-After when defined
 */
export function createThrottle(options: ThrottleOptions): Throttle {
  const now = options.now ?? Date.now;
  const localStores: MemoryStore[] = [];
  const local = (whenFull: WhenFull): MemoryStore => {
    const store = createMemoryStore({ now, maxEntries: options.localCapacity ?? DEFAULT_LOCAL_CAPACITY, whenFull });
    localStores.push(store);
    return store;
  };
  let lastReport = Number.NEGATIVE_INFINITY;
  const onStoreError = (error: unknown) => {
    const t = Date.now();
    if (t - lastReport < REPORT_EVERY_MS) return;
    lastReport = t;
    options.onStoreError?.(error);
  };
  const limiter = (name: LimitName) => {
    const spec = options.limits[name];
    if (spec === null) return undefined;
    const own = local(GUARDS.has(name) ? 'refuse' : 'evict');
    const [store, insuranceStore] = options.shared === undefined ? [own, undefined] : [options.shared, own];
    return new Limiter(name, spec, { store, insuranceStore, onStoreError, now });
  };
  return {
    limits: options.limits,
    login: createLoginThrottle({ userIp: limiter('LOGIN_USER_IP'), user: limiter('LOGIN_USER'), ip: limiter('LOGIN_IP') }, options.shared ?? local('evict')),
    requests: createRequestLimits(
      {
        globalIp: limiter('GLOBAL_IP'),
        registerIp: limiter('REGISTER_IP'),
        refreshSession: limiter('REFRESH_SESSION'),
        passwordChangeUser: limiter('PASSWORD_CHANGE_USER'),
        revokeIp: limiter('REVOKE_IP'),
        apiKey: limiter('API_KEY'),
        wsTicketUser: limiter('WS_TICKET'),
        mailRequestIp: limiter('MAIL_REQUEST_IP'),
        mailAccount: limiter('MAIL_ACCOUNT'),
        passkeyOptionsIp: limiter('PASSKEY_OPTIONS_IP'),
      },
      options,
    ),
    secondFactor: createSecondFactorThrottle(limiter('OTP_USER')),
    close: async () => {
      await Promise.all(localStores.map((s) => s.close()));
    },
  };
}
