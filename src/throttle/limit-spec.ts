/**
 * The throttling limits and their `<count>/<window>` notation (`10/15m`, or `off`), as set by
 * `GATEHOUSE_LIMIT_<NAME>`. Parsing lives here so the configuration, the docs and the limiter
 * agree on one grammar.
 */

/** Every limit Gatehouse enforces; `GATEHOUSE_LIMIT_<NAME>` sets each. */
export const LIMIT_NAMES = [
  'LOGIN_USER_IP',
  'LOGIN_USER',
  'LOGIN_IP',
  'REGISTER_IP',
  'REFRESH_SESSION',
  'PASSWORD_CHANGE_USER',
  'REVOKE_IP',
  'GLOBAL_IP',
  'API_KEY',
  'WS_TICKET',
  'MAIL_REQUEST_IP',
  'MAIL_ACCOUNT',
  'PASSKEY_OPTIONS_IP',
  'OTP_USER',
] as const;

export type LimitName = (typeof LIMIT_NAMES)[number];

/** At most `count` events per `windowSeconds`, counted from the first event of the window. */
export interface LimitSpec {
  readonly count: number;
  readonly windowSeconds: number;
}

/** `null` means the limit is switched off. */
export type Limits = Readonly<Record<LimitName, LimitSpec | null>>;

/**
 * Defaults sized for a real deployment: a person, or an honest client behind one address, never
 * meets them. The three login limits count failures only; the others count requests.
 */
export const DEFAULT_LIMITS: Readonly<Record<LimitName, string>> = {
  LOGIN_USER_IP: '10/15m',
  LOGIN_USER: '100/15m',
  LOGIN_IP: '100/15m',
  REGISTER_IP: '100/1h',
  REFRESH_SESSION: '60/1m',
  // A wrong current password is a guess at it: the same budget as a login from one place.
  PASSWORD_CHANGE_USER: '10/15m',
  // Revocation is cheap and a client may revoke a burst of tokens at sign-out; this stops floods only.
  REVOKE_IP: '100/1m',
  GLOBAL_IP: '1200/1m',
  // Machines call more often than people; a key past this is a runaway job or a leaked key.
  API_KEY: '600/1m',
  // A page opens a socket or two and reconnects now and then; a loop asking for tickets is a flood.
  WS_TICKET: '60/1m',
  // Each request may mail someone: a person asks a few times, a script asking for every name is stopped.
  MAIL_REQUEST_IP: '30/15m',
  // Issue 18: one mail per account per minute, whatever the number of addresses asking.
  MAIL_ACCOUNT: '1/1m',
  // Each asks the ephemeral store to keep a challenge for 5 minutes: a person asks a few times.
  PASSKEY_OPTIONS_IP: '60/1m',
  // A six-digit code with ±1 step has 3 winners in a million: 5 wrong codes, then a block doubling
  // from 15 minutes, keeps a guesser's odds below one in ten thousand a day.
  OTP_USER: '5/15m',
};

const UNIT_SECONDS = { s: 1, m: 60, h: 3_600, d: 86_400 } as const;
const SPEC = /^([1-9][0-9]{0,6})\/([1-9][0-9]{0,6})([smhd])$/;
export const MAX_COUNT = 1_000_000;
export const MAX_WINDOW_SECONDS = 7 * 86_400;

/** The message for any value {@link parseLimitSpec} refuses; config prefixes the variable name. */
export const LIMIT_SPEC_FORMAT = `must be <count>/<window> such as 10/15m (window in s, m, h or d, at most 7d; count at most ${MAX_COUNT}) or "off"`;

/**
 * Parses `10/15m` (count / window with unit s, m, h or d) or `off` (→ `null`).
 * Throws TypeError with {@link LIMIT_SPEC_FORMAT} for anything else: no value is guessed at.
 *
 * @example
 * parseLimitSpec('10/15m'); // { count: 10, windowSeconds: 900 }
 * parseLimitSpec('off');    // null
 */
export function parseLimitSpec(raw: string): LimitSpec | null {
  if (raw === 'off') return null;
  const match = SPEC.exec(raw);
  if (match === null) throw new TypeError(LIMIT_SPEC_FORMAT);
  const [, count, amount, unit] = match as unknown as [string, string, string, keyof typeof UNIT_SECONDS];
  const windowSeconds = Number(amount) * UNIT_SECONDS[unit];
  if (Number(count) > MAX_COUNT || windowSeconds > MAX_WINDOW_SECONDS) throw new TypeError(LIMIT_SPEC_FORMAT);
  return Object.freeze({ count: Number(count), windowSeconds });
}
