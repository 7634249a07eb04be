/**
 * How and when the user behind a token authenticated: RFC 8176 `amr` values and OIDC `auth_time`,
 * carried by access tokens and cookie sessions, and the step-up rule of RFC 9470 that the server's
 * guard and every adapter decide with.
 */
export interface Authentication {
  /** RFC 8176 authentication method references, e.g. `['pwd']`, `['pwd', 'otp']`, `['hwk', 'user']`. */
  readonly methods: readonly string[];
  /** When the user last proved them (`auth_time`), seconds since the epoch. A refresh never moves it. */
  readonly time: number;
}

export type AssuranceLevel = 1 | 2;

/** The `acr` value of each level (RFC 9470 `acr_values` in a step-up challenge names them too). */
export const ACR_VALUES: Readonly<Record<AssuranceLevel, string>> = Object.freeze({ 1: 'urn:gatehouse:aal1', 2: 'urn:gatehouse:aal2' });

/** What a route demands of the authentication: a level, and optionally that it happened at most `maxAge` seconds ago. */
export interface AuthenticationRequirement {
  readonly aal: AssuranceLevel;
  readonly maxAge?: number;
}

// RFC 8176 §2: something the user knows, something he has, and user verification on the thing he has.
const KNOWLEDGE = new Set(['pwd', 'pin', 'kba']);
const POSSESSION = new Set(['otp', 'hwk', 'swk', 'sms', 'tel']);
const VERIFIED_USER = new Set(['user', 'pin', 'fpt', 'face', 'iris', 'retina', 'vbm']);

/**
 * 2 when the methods are two factors of different kinds: a knowledge factor and a possession
 * factor (a password and a TOTP code), a key whose authenticator verified the user (a passkey with
 * UV), or the summary value `mfa`; 1 otherwise.
 */
export function assuranceLevelOf(methods: readonly string[]): AssuranceLevel {
  if (methods.includes('mfa')) return 2;
  const possession = methods.some((m) => POSSESSION.has(m));
  if (!possession) return 1;
  const keyWithUserVerification = methods.some((m) => m === 'hwk' || m === 'swk') && methods.some((m) => VERIFIED_USER.has(m));
  return keyWithUserVerification || methods.some((m) => KNOWLEDGE.has(m)) ? 2 : 1;
}

/**
 * Why `authentication` does not meet `requirement` at `nowSeconds` (for the log), or undefined.
 * No authentication facts (a client-credentials token, an API key, a token from before they
 * existed) meets no requirement: there is no user authentication to vouch for.
 */
export function stepUpRefusal(authentication: Authentication | undefined, requirement: AuthenticationRequirement, nowSeconds: number): string | undefined {
  if (authentication === undefined) return 'no user authentication behind this credential';
  const level = assuranceLevelOf(authentication.methods);
  if (level < requirement.aal) return `authentication level ${level} below ${requirement.aal} (${authentication.methods.join(' ') || 'no methods'})`;
  if (requirement.maxAge !== undefined && nowSeconds - authentication.time > requirement.maxAge) {
    return `authenticated ${nowSeconds - authentication.time} s ago, more than ${requirement.maxAge} s`;
  }
  return undefined;
}

/**
 * The RFC 9470 §3 challenge parameters after `Bearer …, error="insufficient_user_authentication"`:
 * `acr_values` and, with a maximum age, `max_age`.
 */
export function stepUpChallengeParameters(requirement: AuthenticationRequirement): string {
  const maxAge = requirement.maxAge === undefined ? '' : `, max_age=${requirement.maxAge}`;
  return `acr_values="${ACR_VALUES[requirement.aal]}"${maxAge}`;
}

const METHOD = /^[a-z]{2,16}$/;
const MAX_METHODS = 8;

/** A well-formed `amr` claim: a short list of short lower-case method names. */
export function isMethodList(value: unknown): value is string[] {
  return Array.isArray(value) && value.length > 0 && value.length <= MAX_METHODS && value.every((m) => typeof m === 'string' && METHOD.test(m));
}

/** Caller mistakes in a declaration fail at startup, not on the first request. */
export function checkAuthenticationRequirement(value: unknown): AuthenticationRequirement {
  if (typeof value !== 'object' || value === null) throw new TypeError('authentication must be { aal: 1 | 2, maxAge?: seconds }');
  const { aal, maxAge, ...rest } = value as { aal?: unknown; maxAge?: unknown };
  if (Object.keys(rest).length > 0) throw new TypeError(`authentication has unknown keys: ${Object.keys(rest).join(', ')}`);
  if (aal !== 1 && aal !== 2) throw new TypeError('authentication.aal must be 1 or 2');
  if (maxAge !== undefined && !(typeof maxAge === 'number' && Number.isSafeInteger(maxAge) && maxAge > 0)) {
    throw new TypeError('authentication.maxAge must be a whole number of seconds above 0');
  }
  return Object.freeze(maxAge === undefined ? { aal } : { aal, maxAge: maxAge as number });
}
