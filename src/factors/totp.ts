import { Secret, TOTP } from 'otpauth';

/** RFC 6238 as every authenticator app reads it: HMAC-SHA-1, 6 digits, 30-second steps. */
export const TOTP_ALGORITHM = 'SHA1';
export const TOTP_DIGITS = 6;
export const TOTP_PERIOD_SECONDS = 30;
/** Codes of the step before and after now are accepted too (RFC 6238 §5.2: one step of clock drift). */
export const TOTP_WINDOW = 1;
/** 160 bits: the HMAC-SHA-1 block's natural key size (RFC 4226 §4 recommends it). */
const SECRET_BYTES = 20;
const CODE_SHAPE = /^[0-9]{6}$/;

export function newTotpSecret(): Uint8Array {
  return new Uint8Array(new Secret({ size: SECRET_BYTES }).bytes);
}

const totpOf = (secret: Uint8Array, issuer = '', label = ''): TOTP =>
  new TOTP({
    issuer,
    label,
    algorithm: TOTP_ALGORITHM,
    digits: TOTP_DIGITS,
    period: TOTP_PERIOD_SECONDS,
    secret: new Secret({ buffer: Uint8Array.from(secret).buffer }),
  });

/** The `otpauth://totp/…` URI an authenticator app scans (issuer and account name shown in the app). */
export function otpauthUri(secret: Uint8Array, issuer: string, account: string): string {
  return totpOf(secret, issuer, account).toString();
}

/** The time step (RFC 6238 T) an instant falls in. */
export function timeStepAt(nowMs: number): number {
  return TOTP.counter({ period: TOTP_PERIOD_SECONDS, timestamp: nowMs });
}

/**
 * The time step whose code `code` is, within ±{@link TOTP_WINDOW} of now; undefined when it is none
 * (or not six digits). The caller accepts the code only by moving the factor's last step past it.
 */
export function matchingStep(secret: Uint8Array, code: string, nowMs: number): number | undefined {
  if (!CODE_SHAPE.test(code)) return undefined;
  const delta = totpOf(secret).validate({ token: code, timestamp: nowMs, window: TOTP_WINDOW });
  return delta === null ? undefined : timeStepAt(nowMs) + delta;
}
