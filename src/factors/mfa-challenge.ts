import { createHash, randomBytes } from 'node:crypto';
import { z } from 'zod';
import type { EphemeralStore } from '../stores/ephemeral/ephemeral-store.js';

/** What a challenge starts with, so secret scanners and log reviewers can recognise one. */
export const MFA_CHALLENGE_PREFIX = 'ghm_';
/** Issue 18: short-lived; five minutes to open the authenticator app and type a code. */
export const MFA_CHALLENGE_LIFETIME_MS = 5 * 60_000;
/** Wrong codes one challenge takes; then the password step must be done again. */
export const MFA_CHALLENGE_MAX_ATTEMPTS = 5;
/** 32 random bytes: 256 bits. */
const CHALLENGE_BYTES = 32;
const CHALLENGE_SHAPE = /^ghm_[A-Za-z0-9_-]{43}$/;

/**
 * What the password step found and the factor step will yield, stored under the challenge's
 * SHA-256 digest. The user's password-hash fingerprint and token version are bound so that a
 * password change, a reset or a log-out-everywhere meanwhile kills the challenge.
 */
const bindingSchema = z
  .object({
    userId: z.string(),
    passwordFingerprint: z.string(),
    tokenVersion: z.number().int(),
    clientId: z.string(),
    /** The scope asked for at the password step; null: none named (every scope held). */
    requestedScopes: z.array(z.string()).nullable(),
    /** The tenant named at the password step; null: none named. */
    tenant: z.string().nullable(),
    resource: z.string().nullable(),
    /** `tokens`: the grant or the JSON login; `cookie`: a browser sign-in. */
    yields: z.enum(['tokens', 'cookie']),
    /** Epoch ms. */
    expiresAt: z.number(),
    attempts: z.number().int(),
  })
  .strict();

export type MfaChallengeBinding = z.infer<typeof bindingSchema>;

export interface MfaChallenges {
  /** A new challenge bound to `binding` (its expiry and attempt count are set here). */
  issue(binding: Omit<MfaChallengeBinding, 'expiresAt' | 'attempts'>): Promise<{ readonly challenge: string; readonly expiresIn: number }>;
  /**
   * Takes the challenge (the store's atomic `take`: of any number of racing callers, on any
   * instance, one gets it); undefined when it is malformed, unknown, used or expired.
   */
  take(challenge: string): Promise<MfaChallengeBinding | undefined>;
  /**
   * After a wrong code: the challenge is stored again with one more attempt, for what is left of its
   * lifetime, unless that was its last attempt. A caller racing meanwhile found it taken.
   */
  giveBack(challenge: string, binding: MfaChallengeBinding, countAttempt: boolean): Promise<void>;
}

const keyOf = (challenge: string): string => `mfa-challenge:${createHash('sha256').update(challenge, 'utf8').digest('base64url')}`;

export function createMfaChallenges(deps: { readonly store: Pick<EphemeralStore, 'set' | 'take'>; readonly now: () => number }): MfaChallenges {
  return {
    async issue(fields) {
      const challenge = `${MFA_CHALLENGE_PREFIX}${randomBytes(CHALLENGE_BYTES).toString('base64url')}`;
      const binding: MfaChallengeBinding = { ...fields, expiresAt: deps.now() + MFA_CHALLENGE_LIFETIME_MS, attempts: 0 };
      await deps.store.set(keyOf(challenge), JSON.stringify(binding), MFA_CHALLENGE_LIFETIME_MS);
      return { challenge, expiresIn: MFA_CHALLENGE_LIFETIME_MS / 1000 };
    },
    async take(challenge) {
      if (!CHALLENGE_SHAPE.test(challenge)) return undefined;
      const raw = await deps.store.take(keyOf(challenge));
      if (raw === undefined) return undefined;
      const parsed = bindingSchema.safeParse(JSON.parse(raw));
      // The store's expiry runs on its own clock: the binding's is the one the tests' clock drives.
      if (!parsed.success || parsed.data.expiresAt <= deps.now()) return undefined;
      return parsed.data;
    },
    async giveBack(challenge, binding, countAttempt) {
      const attempts = binding.attempts + (countAttempt ? 1 : 0);
      const left = Math.floor(binding.expiresAt - deps.now());
      if (attempts >= MFA_CHALLENGE_MAX_ATTEMPTS || left <= 0) return;
      await deps.store.set(keyOf(challenge), JSON.stringify({ ...binding, attempts }), left);
    },
  };
}
