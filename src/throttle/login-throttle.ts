import type { EphemeralStore } from '../stores/ephemeral/ephemeral-store.js';
import { usernameKey } from '../users/username.js';
import type { Limiter, Refusal } from './limiter.js';
import { addressKey, throttleKey } from './throttle-keys.js';

/** How many places an account remembers it logged in from, most recent first. */
export const KNOWN_ADDRESSES_PER_ACCOUNT = 10;
/** How long an account remembers them after its last successful login (the default session lifetime). */
export const KNOWN_ADDRESSES_TTL_MS = 30 * 86_400_000;

export interface LoginLimiters {
  /** Failures per username + client address. Reset by a successful login from there. */
  readonly userIp: Limiter | undefined;
  /** Failures per username from anywhere; not applied at addresses the account logged in from before. */
  readonly user: Limiter | undefined;
  /** Failures per client address, whatever the username (credential stuffing). */
  readonly ip: Limiter | undefined;
}

export interface LoginIdentity {
  /** As typed; `undefined` when the request carries none (it will fail before any hashing). */
  readonly username: string | undefined;
  readonly ip: string;
}

/** One login attempt let through: report its outcome, then `end` it (always, exactly once). */
export interface LoginAttempt {
  failed(): Promise<void>;
  succeeded(): Promise<void>;
  end(): void;
}

export type LoginDecision = { readonly refused: Refusal } | { readonly attempt: LoginAttempt };

export interface LoginThrottle {
  /** Before the password is looked at: refused (answer 429, hash nothing) or an attempt to report on. */
  begin(identity: LoginIdentity): Promise<LoginDecision>;
}

interface Counted {
  readonly limiter: Limiter;
  readonly key: string;
}

/**
 * Failed logins counted three ways, checked before any hashing:
 * - per username + address (`LOGIN_USER_IP`): one place guessing one account;
 * - per username (`LOGIN_USER`): one account guessed from many places — but not enforced at the
 *   addresses the account has logged in from (a short list per account), so an attacker elsewhere
 *   cannot lock the owner out;
 * - per address (`LOGIN_IP`): one place trying many accounts.
 *
 * Nothing here looks the account up, so an unknown username is counted, checked and refused exactly
 * like a real one. Usernames are compared by their lookup key (NFKC, lower case) and hashed with
 * the address into store keys.
 *
 * An attempt let through has its counters reserved first (see `Limiter.reserve`): where there is no
 * room to record its failure it is refused, so a full store never turns into unthrottled guesses.
 *
 * Attempts still in flight count against the budget on this instance (a burst sent at once cannot
 * all pass the check before the first failure is recorded); across instances a burst is held to
 * the budget of each.
 */
export function createLoginThrottle(limiters: LoginLimiters, store: EphemeralStore): LoginThrottle {
  // `store` keeps the known addresses. Losing some only makes LOGIN_USER apply at more places (the
  // stricter answer), so it may be a store that evicts.
  const inFlight = new Map<string, number>();
  const flightKey = (c: Counted) => `${c.limiter.name}:${c.key}`;
  const knownKeyOf = (account: string) => `throttle:known_addresses:${throttleKey('account', account)}`;

  /** The account's known addresses; none when they cannot be read (the stricter answer). */
  const readKnown = async (knownKey: string): Promise<string[]> => {
    try {
      const raw = await store.get(knownKey);
      const parsed: unknown = raw === undefined ? [] : JSON.parse(raw);
      return Array.isArray(parsed) ? parsed.filter((x): x is string => typeof x === 'string') : [];
    } catch {
      return [];
    }
  };

  return {
    async begin({ username, ip }) {
      const address = addressKey(ip);
      const addressId = throttleKey('address', address);
      const account = username === undefined ? undefined : usernameKey(username);
      const userIp =
        account === undefined || limiters.userIp === undefined ? undefined : { limiter: limiters.userIp, key: throttleKey('user-ip', account, address) };
      const user = account === undefined || limiters.user === undefined ? undefined : { limiter: limiters.user, key: throttleKey('user', account) };
      const perIp = limiters.ip === undefined ? undefined : { limiter: limiters.ip, key: addressId };
      const counted = [userIp, user, perIp].filter((c): c is Counted => c !== undefined);

      // Reserved before anything is awaited, so attempts sent at once see those ahead of them.
      const ahead = counted.map((c) => {
        const n = inFlight.get(flightKey(c)) ?? 0;
        inFlight.set(flightKey(c), n + 1);
        return n;
      });
      let ended = false;
      const end = () => {
        if (ended) return;
        ended = true;
        for (const c of counted) {
          const left = (inFlight.get(flightKey(c)) ?? 1) - 1;
          if (left > 0) {
            inFlight.set(flightKey(c), left);
            continue;
          }
          inFlight.delete(flightKey(c));
          // The last attempt here: a reserved counter it left empty gives its room back.
          void c.limiter.releaseIfUnused(c.key).catch(() => {});
        }
      };

      const knownKey = account === undefined ? undefined : knownKeyOf(account);
      let refused: Refusal[];
      try {
        const known = knownKey === undefined ? [] : await readKnown(knownKey);
        const refusals = await Promise.all(
          counted.map(async (c, i) => (c === user && known.includes(addressId) ? undefined : c.limiter.check(c.key, ahead[i]))),
        );
        refused = refusals.filter((r): r is Refusal => r !== undefined);
        // Only an attempt let through takes room: refused floods create no counters.
        if (refused.length === 0) refused = (await Promise.all(counted.map((c) => c.limiter.reserve(c.key)))).filter((r): r is Refusal => r !== undefined);
      } catch (error) {
        end();
        throw error;
      }
      if (refused.length > 0) {
        end();
        // The longest wait is the true one: every limit must have cleared.
        return { refused: refused.reduce((a, b) => (b.retryAfterMs > a.retryAfterMs ? b : a)) };
      }

      return {
        attempt: {
          async failed() {
            await Promise.all(counted.map((c) => c.limiter.recordFailure(c.key)));
          },
          async succeeded() {
            if (userIp !== undefined) await userIp.limiter.reset(userIp.key);
            if (knownKey === undefined) return;
            // Read-modify-write: two logins at once may drop one address, which the next login restores.
            const next = [addressId, ...(await readKnown(knownKey)).filter((a) => a !== addressId)].slice(0, KNOWN_ADDRESSES_PER_ACCOUNT);
            await store.set(knownKey, JSON.stringify(next), KNOWN_ADDRESSES_TTL_MS);
          },
          end,
        },
      };
    },
  };
}
