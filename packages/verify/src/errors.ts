/**
 * The errors the verifier throws. Callers switch on `code`, never on `message`; the message is the
 * same for every cause so that no client learns which check failed. `logReason` says why, for the
 * log only, and never contains the token.
 */
export type VerificationErrorCode = 'ERR_INVALID_TOKEN' | 'ERR_KEYS_UNAVAILABLE' | 'ERR_REVOCATIONS_STALE';

export class VerificationError extends Error {
  readonly code: VerificationErrorCode;
  /** Detail for the structured log only; never sent to a client. */
  readonly logReason: string;

  constructor(code: VerificationErrorCode, message: string, logReason: string, cause?: unknown) {
    // A refused token is the answer to a client (anyone can send a forged one, in bulk): its stack
    // would only show where `verify` was called, and capturing it was 4% of refusing a forged
    // token. The two outages keep theirs for the log.
    const stackTraceLimit = Error.stackTraceLimit;
    if (code === 'ERR_INVALID_TOKEN') Error.stackTraceLimit = 0;
    try {
      super(message, cause === undefined ? undefined : { cause });
    } finally {
      Error.stackTraceLimit = stackTraceLimit;
    }
    this.name = new.target.name;
    this.code = code;
    this.logReason = logReason;
  }
}

/** RFC 6750 §3.1 `invalid_token`: refused by one of the checks (see `logReason`). */
export class InvalidTokenError extends VerificationError {
  constructor(logReason: string, cause?: unknown) {
    super('ERR_INVALID_TOKEN', 'invalid token', logReason, cause);
  }
}

/**
 * The issuer's keys could not be obtained (never fetched, or the stale period is over) while the
 * token names a key we cannot check. Not the caller's fault: adapters answer 503, not 401, so a
 * client does not throw its token away over an outage.
 */
export class KeysUnavailableError extends VerificationError {
  constructor(logReason: string, cause?: unknown) {
    super('ERR_KEYS_UNAVAILABLE', 'verification keys unavailable', logReason, cause);
  }
}

/**
 * The revocation state has not been confirmed from Gatehouse for longer than `maxStalenessMs`
 * (catch-up failing), so a token revoked meanwhile cannot be told apart: refused, fail closed.
 * Not the caller's fault: adapters answer 503, as for unavailable keys.
 */
export class RevocationsStaleError extends VerificationError {
  constructor(logReason: string) {
    super('ERR_REVOCATIONS_STALE', 'revocation state unavailable', logReason);
  }
}
