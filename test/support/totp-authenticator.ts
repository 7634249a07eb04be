import { TOTP, URI } from 'otpauth';

/**
 * A real authenticator app, as the tests hold one: the otpauth URI an enrolment answered, read by
 * the otpauth library, generating the code of any instant (the tests drive the server's clock).
 */
export interface Authenticator {
  readonly secretBase32: string;
  codeAt(epochMs: number): string;
}

export function authenticatorOf(otpauthUri: string): Authenticator {
  const otp = URI.parse(otpauthUri);
  if (!(otp instanceof TOTP)) throw new TypeError('not a TOTP URI');
  return { secretBase32: otp.secret.base32, codeAt: (epochMs) => otp.generate({ timestamp: epochMs }) };
}
