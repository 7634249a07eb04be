import { digestRefreshToken, isRefreshTokenShaped } from '../sessions/refresh-token.js';
import type { Limiter, Refusal } from './limiter.js';
import { addressKey, throttleKey } from './throttle-keys.js';

export interface RequestLimiters {
  readonly globalIp: Limiter | undefined;
  readonly registerIp: Limiter | undefined;
  readonly refreshSession: Limiter | undefined;
  readonly passwordChangeUser: Limiter | undefined;
  readonly revokeIp: Limiter | undefined;
  readonly apiKey?: Limiter | undefined;
  readonly wsTicketUser?: Limiter | undefined;
  readonly mailRequestIp?: Limiter | undefined;
  readonly mailAccount?: Limiter | undefined;
  readonly passkeyOptionsIp?: Limiter | undefined;
}

export interface RequestLimitDeps {
  /** The session a refresh token belongs to (spent or not), by the token's digest. */
  readonly sessionIdOfRefreshDigest: (digest: string) => Promise<string | undefined>;
}

/** Limits that count every request (no backoff); each answers a Refusal past its count. */
export interface RequestLimits {
  /** Every request, every route: the per-address ceiling. */
  global(ip: string): Promise<Refusal | undefined>;
  register(ip: string): Promise<Refusal | undefined>;
  /**
   * Per session. A refresh token names one generation only and each rotation yields a new one,
   * so counting per token digest would never stop a client rotating in a loop; the session is
   * looked up by the digest (the refresh itself does the same lookup), before the rotation.
   * Tokens that are not refresh-token shaped or belong to no session are not counted here: the
   * grant refuses them without touching a session, and the global ceiling bounds them.
   */
  refresh(refreshToken: string): Promise<Refusal | undefined>;
  passwordChange(userId: string): Promise<Refusal | undefined>;
  revoke(ip: string): Promise<Refusal | undefined>;
  /** Per API key (its public id), counted once the key authenticated: a stranger knowing an id cannot spend its budget. */
  apiKey(keyId: string): Promise<Refusal | undefined>;
  /** Per user: tickets asked for at POST /auth/ws-ticket (each is a write to the ephemeral store and an audit row). */
  wsTicket(userId: string): Promise<Refusal | undefined>;
  /** Requests that may mail a code (password reset, confirmation resend), per client address: answered 429. */
  mailRequest(ip: string): Promise<Refusal | undefined>;
  /**
   * Mails of one kind to one account. Counted off the request path, once the account is known, and
   * never answered as 429: a refusal only for existing accounts would tell which exist.
   */
  accountMail(kind: string, userId: string): Promise<Refusal | undefined>;
  /** Passkey sign-in challenges per client address (each is kept 5 minutes in the ephemeral store). */
  passkeyOptions(ip: string): Promise<Refusal | undefined>;
}

/** Distinct addresses whose key is kept; past it the cache starts over. */
const ADDRESS_CACHE_SIZE = 10_000;

export function createRequestLimits(limiters: RequestLimiters, deps: RequestLimitDeps): RequestLimits {
  // The ceiling runs on every request, and hashing the address was most of its cost.
  const addressIds = new Map<string, string>();
  const addressId = (ip: string): string => {
    let id = addressIds.get(ip);
    if (id === undefined) {
      if (addressIds.size >= ADDRESS_CACHE_SIZE) addressIds.clear();
      id = throttleKey('address', addressKey(ip));
      addressIds.set(ip, id);
    }
    return id;
  };
  const perAddress = (limiter: Limiter | undefined) => async (ip: string) => limiter?.consume(addressId(ip));
  return {
    global: perAddress(limiters.globalIp),
    register: perAddress(limiters.registerIp),
    revoke: perAddress(limiters.revokeIp),
    mailRequest: perAddress(limiters.mailRequestIp),
    passkeyOptions: perAddress(limiters.passkeyOptionsIp),
    async accountMail(kind, userId) {
      return limiters.mailAccount?.consume(throttleKey(`mail-${kind}`, userId));
    },
    async refresh(refreshToken) {
      const limiter = limiters.refreshSession;
      if (limiter === undefined || !isRefreshTokenShaped(refreshToken)) return undefined;
      const sessionId = await deps.sessionIdOfRefreshDigest(digestRefreshToken(refreshToken));
      return sessionId === undefined ? undefined : limiter.consume(throttleKey('session', sessionId));
    },
    async apiKey(keyId) {
      return limiters.apiKey?.consume(throttleKey('api-key', keyId));
    },
    async passwordChange(userId) {
      return limiters.passwordChangeUser?.consume(throttleKey('user-id', userId));
    },
    async wsTicket(userId) {
      return limiters.wsTicketUser?.consume(throttleKey('ws-ticket-user', userId));
    },
  };
}
