import type { Limiter, Refusal } from './limiter.js';
import { throttleKey } from './throttle-keys.js';

/** One second-factor attempt let through: report its outcome (`failed` or `succeeded`), then `end` it, exactly once. */
export interface SecondFactorAttempt {
  failed(): Promise<void>;
  succeeded(): Promise<void>;
  end(): void;
}

export interface SecondFactorThrottle {
  /**
   * Before a code (TOTP or recovery) is checked for the user: refused while the user's failures
   * reached GATEHOUSE_LIMIT_OTP_USER (blocked with backoff, as failed logins are), or an attempt.
   * Counted per account, not per address: the password is already known to whoever asks, and
   * a million codes from a thousand addresses are one guess at one account.
   */
  begin(userId: string): Promise<{ readonly refused: Refusal } | { readonly attempt: SecondFactorAttempt }>;
}

/** Without the limit (`off`): every attempt is let through and nothing is counted. */
const UNCOUNTED: SecondFactorAttempt = { failed: async () => {}, succeeded: async () => {}, end: () => {} };

export function createSecondFactorThrottle(limiter: Limiter | undefined): SecondFactorThrottle {
  // Attempts in flight count against the budget: a burst sent at once cannot all pass the check
  // before the first failure is recorded.
  const inFlight = new Map<string, number>();
  return {
    async begin(userId) {
      if (limiter === undefined) return { attempt: UNCOUNTED };
      const key = throttleKey('otp-user', userId);
      const ahead = inFlight.get(key) ?? 0;
      inFlight.set(key, ahead + 1);
      let ended = false;
      const end = () => {
        if (ended) return;
        ended = true;
        const left = (inFlight.get(key) ?? 1) - 1;
        if (left > 0) inFlight.set(key, left);
        else {
          inFlight.delete(key);
          void limiter.releaseIfUnused(key).catch(() => {});
        }
      };
      let refused: Refusal | undefined;
      try {
        refused = (await limiter.check(key, ahead)) ?? (await limiter.reserve(key));
      } catch (error) {
        end();
        throw error;
      }
      if (refused !== undefined) {
        end();
        return { refused };
      }
      return {
        attempt: {
          failed: () => limiter.recordFailure(key),
          succeeded: () => limiter.reset(key),
          end,
        },
      };
    },
  };
}
