import type { RouteRequirement } from '../../guard/requirement.js';

/** The signed-in user's own account routes: a bearer token or the cookie session, with `profile`. */
export const SIGNED_IN: RouteRequirement = Object.freeze({ schemes: ['bearer', 'session'] as const, scopes: ['profile'] });

/**
 * Adding or removing a second factor (a passkey, a TOTP factor, recovery codes): a sign-in within
 * 5 minutes, with two factors once the user has one (supabase/auth#1615: a stolen session must
 * not enrol its own factor nor remove the user's). src/guard/factor-change.ts decides.
 */
export const CHANGES_FACTORS: RouteRequirement = Object.freeze({ ...SIGNED_IN, factorChange: true });

/** What the OpenAPI description of a CHANGES_FACTORS route says. */
export const FACTOR_CHANGE_NOTE =
  ' Needs a sign-in within the last 5 minutes, made with two factors (a passkey, or a password and a code) once you have a second factor; otherwise 401 `ERR_STEP_UP_REQUIRED` with an RFC 9470 challenge.';
