import type { AuthenticationRequirement } from '@gatehouse/verify/internal';

/** How recent the sign-in behind a factor change must be (seconds). */
export const FACTOR_CHANGE_MAX_AGE_SECONDS = 300;

/** Whether a user has a second factor (a passkey, a confirmed TOTP factor) enrolled. */
export interface SecondFactorPresence {
  enrolled(userId: string): Promise<boolean>;
}

/**
 * What a factor change (`factorChange: true`) asks of the caller: a sign-in within the last five
 * minutes, made with two factors once the user has a second one. Without the second clause a
 * stolen session could replace the owner's factor with the thief's (supabase/auth#1615); without
 * the first, a session left open on a shared computer could enrol the first one.
 */
export function factorChangeRequirement(secondFactorEnrolled: boolean): AuthenticationRequirement {
  return { aal: secondFactorEnrolled ? 2 : 1, maxAge: FACTOR_CHANGE_MAX_AGE_SECONDS };
}
