import type { AuthenticationRequirement } from '@gatehouse/verify/internal';
/**
 * Typed errors with stable codes. Callers switch on `code`, never on `message`.
 * Messages never contain a token, a password or a hash: they may reach a log.
 * Mapping to HTTP lives in exactly one place: `src/http/error-response.ts`.
 */

export const ErrorCodes = [
  'ERR_CONFIG_INVALID',
  'ERR_VALIDATION',
  'ERR_PASSWORD_POLICY',
  'ERR_USERNAME_TAKEN',
  'ERR_TENANT_TAKEN',
  'ERR_CURRENT_PASSWORD_WRONG',
  'ERR_PASSWORD_CHANGED_CONCURRENTLY',
  'ERR_INVALID_CODE',
  'ERR_EMAIL_TAKEN',
  'ERR_PASSKEY_REFUSED',
  'ERR_MFA_REQUIRED',
  'ERR_TOTP_UNAVAILABLE',
  'ERR_NOT_FOUND',
  'ERR_METHOD_NOT_ALLOWED',
  'ERR_PAYLOAD_TOO_LARGE',
  'ERR_UNSUPPORTED_MEDIA_TYPE',
  'ERR_MALFORMED_BODY',
  'ERR_MALFORMED_REQUEST',
  'ERR_URI_TOO_LONG',
  'ERR_EXPECTATION_FAILED',
  'ERR_REQUEST_TIMEOUT',
  'ERR_HEADERS_TOO_LARGE',
  'ERR_NO_CREDENTIAL',
  'ERR_MALFORMED_CREDENTIAL',
  'ERR_INVALID_TOKEN',
  'ERR_INSUFFICIENT_SCOPE',
  'ERR_STEP_UP_REQUIRED',
  'ERR_FORBIDDEN',
  'ERR_CSRF',
  'ERR_OAUTH_INVALID_REQUEST',
  'ERR_OAUTH_INVALID_GRANT',
  'ERR_OAUTH_INVALID_CLIENT',
  'ERR_OAUTH_UNAUTHORIZED_CLIENT',
  'ERR_OAUTH_UNSUPPORTED_GRANT_TYPE',
  'ERR_OAUTH_INVALID_SCOPE',
  'ERR_OAUTH_INVALID_TARGET',
  'ERR_STORE_UNAVAILABLE',
  'ERR_SHUTTING_DOWN',
  'ERR_THROTTLED',
  'ERR_INTERNAL',
] as const;

export type ErrorCode = (typeof ErrorCodes)[number];

/**
 * The codes of the server's own faults (a 5xx, or a refused start): only their errors capture a
 * stack, since only they are logged with one (src/http/error-handler.ts; the CLI prints a message
 * and a code). Every other code refuses a client's request, and a flood of such refusals (bad
 * tokens, unknown routes) paid for a stack capture on each: it was 9 µs of every 404.
 * A test checks this set against the HTTP status table.
 */
export const SERVER_FAULT_CODES: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  'ERR_CONFIG_INVALID',
  'ERR_STORE_UNAVAILABLE',
  'ERR_SHUTTING_DOWN',
  'ERR_INTERNAL',
]);

export class GatehouseError extends Error {
  readonly code: ErrorCode;
  /** Detail for the structured log only; never sent to a client. */
  readonly logReason: string | undefined;

  constructor(code: ErrorCode, message: string, options?: { logReason?: string; cause?: unknown }) {
    const stackTraceLimit = Error.stackTraceLimit;
    if (!SERVER_FAULT_CODES.has(code)) Error.stackTraceLimit = 0;
    try {
      super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    } finally {
      Error.stackTraceLimit = stackTraceLimit;
    }
    this.name = new.target.name;
    this.code = code;
    this.logReason = options?.logReason;
  }
}

export class ConfigError extends GatehouseError {
  /** One line per problem, each naming the variable. */
  readonly problems: readonly string[];
  constructor(problems: readonly string[]) {
    super('ERR_CONFIG_INVALID', `invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.problems = problems;
  }
}

export interface FieldIssue {
  readonly field: string;
  readonly message: string;
}

export class ValidationError extends GatehouseError {
  readonly issues: readonly FieldIssue[];
  constructor(issues: readonly FieldIssue[]) {
    super('ERR_VALIDATION', `invalid ${issues.map((i) => i.field).join(', ') || 'request'}`);
    this.issues = issues;
  }
}

export type PasswordRejection = 'too_short' | 'too_long' | 'common' | 'contains_username' | 'repetitive' | 'sequential' | 'context' | 'invisible' | 'invalid';

export class PasswordPolicyError extends GatehouseError {
  readonly rejection: PasswordRejection;
  readonly field: string;
  constructor(rejection: PasswordRejection, message: string, field = 'password') {
    // One code for every rule; the rule that refused is the log's reason.
    super('ERR_PASSWORD_POLICY', message, { logReason: rejection });
    this.rejection = rejection;
    this.field = field;
  }
}

export class UsernameTakenError extends GatehouseError {
  /** `logReason` tells the log whether the name or a look-alike of it was taken; the client is told the same either way. */
  constructor(logReason?: string) {
    super('ERR_USERNAME_TAKEN', 'username is already taken', logReason === undefined ? undefined : { logReason });
  }
}

/** A password change whose `current_password` does not verify. */
export class TenantTakenError extends GatehouseError {
  constructor() {
    super('ERR_TENANT_TAKEN', 'a tenant with this slug exists already');
  }
}

export class CurrentPasswordWrongError extends GatehouseError {
  constructor(reason: 'wrong_password' | 'password_too_long' = 'wrong_password') {
    super('ERR_CURRENT_PASSWORD_WRONG', 'current password is not correct', { logReason: reason });
  }
}

/** Another password change won the compare-and-set between our check and our write. */
export class PasswordChangedConcurrentlyError extends GatehouseError {
  constructor() {
    super('ERR_PASSWORD_CHANGED_CONCURRENTLY', 'the password was changed by another request; try again');
  }
}

/**
 * A mailed code (password reset, address confirmation) that is not live: unknown, used, expired,
 * for another purpose, or stale (the password changed since). One message for all; the log says which.
 */
export class InvalidCodeError extends GatehouseError {
  constructor(logReason: string) {
    super('ERR_INVALID_CODE', 'the code is invalid, used or expired; ask for a new one', { logReason });
  }
}

/**
 * Confirming an address that another account confirmed first. Only the holder of the mailed code
 * (the mailbox's owner) can meet it: a requester never learns whose an address is.
 */
export class EmailTakenError extends GatehouseError {
  constructor() {
    super('ERR_EMAIL_TAKEN', 'this address is already confirmed for another account');
  }
}

/**
 * A passkey registration that did not verify: a challenge unknown, used, expired or of another
 * ceremony or user, another origin or RP ID, no user verification, a credential registered
 * already. One message for all; the log says which.
 */
export class PasskeyRefusedError extends GatehouseError {
  constructor(logReason: string) {
    super('ERR_PASSKEY_REFUSED', 'the passkey could not be registered; start again', { logReason });
  }
}

/** A resource that does not exist, or not for this caller (the two are never told apart). */
export class NotFoundError extends GatehouseError {
  constructor(logReason: string) {
    super('ERR_NOT_FOUND', 'not found', { logReason });
  }
}

/** A request-shape problem detected by the HTTP layer (not a business rule). */
export class RequestError extends GatehouseError {
  constructor(
    code:
      | 'ERR_NOT_FOUND'
      | 'ERR_METHOD_NOT_ALLOWED'
      | 'ERR_PAYLOAD_TOO_LARGE'
      | 'ERR_UNSUPPORTED_MEDIA_TYPE'
      | 'ERR_MALFORMED_BODY'
      | 'ERR_MALFORMED_REQUEST'
      | 'ERR_URI_TOO_LONG'
      | 'ERR_EXPECTATION_FAILED'
      | 'ERR_REQUEST_TIMEOUT'
      | 'ERR_HEADERS_TOO_LARGE',
    message: string,
    logReason?: string,
  ) {
    super(code, message, logReason === undefined ? undefined : { logReason });
  }
}

/** RFC 6750 §3: no credential at all. Answered 401 without an `error` attribute. */
export class MissingCredentialError extends GatehouseError {
  /** `logReason`: why a credential that was present counts as none (an ended cookie session). */
  constructor(logReason?: string, cause?: unknown) {
    super('ERR_NO_CREDENTIAL', 'authentication required', { ...(logReason === undefined ? {} : { logReason }), cause });
  }
}

/** RFC 6750 §3.1 `invalid_request`: the credential is presented in a way we refuse to read. */
export class MalformedCredentialError extends GatehouseError {
  constructor(logReason: string) {
    super('ERR_MALFORMED_CREDENTIAL', 'malformed credential', { logReason });
  }
}

/** RFC 6750 §3.1 `invalid_token`. The client never learns which check failed. */
export class InvalidTokenError extends GatehouseError {
  constructor(logReason: string, cause?: unknown) {
    super('ERR_INVALID_TOKEN', 'invalid token', { logReason, cause });
  }
}

/** RFC 6750 §3.1 `insufficient_scope`. */
export class InsufficientScopeError extends GatehouseError {
  readonly requiredScopes: readonly string[];
  constructor(requiredScopes: readonly string[], logReason: string) {
    super('ERR_INSUFFICIENT_SCOPE', 'insufficient scope', { logReason });
    this.requiredScopes = requiredScopes;
  }
}

/**
 * RFC 9470: the caller authenticated, but not strongly or recently enough for this route (or this
 * change: adding a second factor). `requirement` is what would satisfy it; the challenge names it.
 */
export class StepUpRequiredError extends GatehouseError {
  readonly requirement: AuthenticationRequirement;
  constructor(requirement: AuthenticationRequirement, logReason: string) {
    super('ERR_STEP_UP_REQUIRED', 'stronger or more recent authentication required', { logReason });
    this.requirement = requirement;
  }
}

export class ForbiddenError extends GatehouseError {
  constructor(logReason: string) {
    super('ERR_FORBIDDEN', 'forbidden', { logReason });
  }
}

/**
 * The CSRF layer (OWASP CSRF cheat sheet) that refused a cookie-authenticated write; see
 * guard/csrf-layers.ts. `synchronizer-token`: a hosted page's form without its token
 * (http/pages/csrf.ts), the sign-in and registration forms included.
 */
export type CsrfLayer = 'fetch-metadata' | 'origin' | 'synchronizer-token' | 'content-type';

/**
 * A cookie-authenticated write the CSRF layers refused. The client gets one generic message; the
 * log's reason names the layer and what it saw, because opaque CSRF refusals are what operators
 * cannot debug (ory/kratos#4043, #3316).
 */
export class CsrfError extends GatehouseError {
  readonly layer: CsrfLayer;
  constructor(layer: CsrfLayer, reason: string) {
    super('ERR_CSRF', 'cross-site request refused', { logReason: `csrf layer ${layer}: ${reason}` });
    this.layer = layer;
  }
}

/** RFC 6749 §5.2 error values, one class each, as node-oidc-provider does. */
export type OAuthErrorValue =
  | 'invalid_request'
  | 'invalid_grant'
  | 'invalid_client'
  | 'unauthorized_client'
  | 'unsupported_grant_type'
  | 'invalid_scope'
  /** RFC 8707 §2 */
  | 'invalid_target'
  /** A password sign-in of an account with a second factor: the answer carries the MFA challenge. */
  | 'mfa_required';

export abstract class OAuthError extends GatehouseError {
  abstract readonly error: OAuthErrorValue;
  abstract readonly status: 400 | 401 | 403;
}

export class InvalidRequestError extends OAuthError {
  readonly error = 'invalid_request';
  readonly status = 400;
  constructor(message: string, logReason?: string) {
    super('ERR_OAUTH_INVALID_REQUEST', message, logReason === undefined ? undefined : { logReason });
  }
}

/** Deliberately one message for every cause: unknown user, wrong password, disabled account. */
export class InvalidGrantError extends OAuthError {
  readonly error = 'invalid_grant';
  readonly status = 400;
  constructor(logReason: string) {
    super('ERR_OAUTH_INVALID_GRANT', 'the credentials or grant are invalid', { logReason });
  }
}

/**
 * A refused password login. The client sees a plain invalid_grant; the audit trail gets a stable
 * reason and, when the account exists, whose account it was.
 */
export class LoginRefusedError extends InvalidGrantError {
  readonly reason:
    | 'unknown_user'
    | 'wrong_password'
    | 'account_disabled'
    | 'account_locked'
    | 'password_too_long'
    | 'not_a_member'
    | 'service_account'
    | 'email_unverified'
    | PasskeyRefusal;
  readonly subjectId: string | null;
  /** `detail`: more for the log (a passkey verification's own message), never for the client. */
  constructor(reason: LoginRefusedError['reason'], subjectId: string | null, detail?: string) {
    super(detail === undefined ? reason.replaceAll('_', ' ') : `${reason.replaceAll('_', ' ')}: ${detail}`);
    this.reason = reason;
    this.subjectId = subjectId;
  }
}

/** Why a passkey sign-in was refused (src/passkeys/passkey-sign-in.ts); the client reads a wrong password. */
export type PasskeyRefusal =
  | 'passkey_challenge_unknown'
  | 'passkey_wrong_ceremony'
  | 'passkey_unknown_credential'
  | 'passkey_user_mismatch'
  | 'passkey_verification_failed'
  | 'passkey_counter_not_increased'
  | 'passkey_used_concurrently';

export class InvalidClientError extends OAuthError {
  readonly error = 'invalid_client';
  readonly status = 401;
  constructor(logReason: string) {
    super('ERR_OAUTH_INVALID_CLIENT', 'client authentication failed', { logReason });
  }
}

/**
 * A refused client authentication at the client-credentials grant: the client sees a plain
 * invalid_client (401); the audit trail and the throttle get why and, when known, whose account.
 */
export class ClientAuthenticationFailedError extends InvalidClientError {
  readonly reason: 'bad_secret' | 'not_the_owner' | 'not_a_service_account';
  readonly subjectId: string | null;
  constructor(reason: ClientAuthenticationFailedError['reason'], subjectId: string | null, detail: string) {
    super(`${reason.replaceAll('_', ' ')}: ${detail}`);
    this.reason = reason;
    this.subjectId = subjectId;
  }
}

export class UnauthorizedClientError extends OAuthError {
  readonly error = 'unauthorized_client';
  readonly status = 400;
  constructor(logReason: string, message = 'the client may not use this grant type') {
    super('ERR_OAUTH_UNAUTHORIZED_CLIENT', message, { logReason });
  }
}

export class UnsupportedGrantTypeError extends OAuthError {
  readonly error = 'unsupported_grant_type';
  readonly status = 400;
  constructor() {
    super('ERR_OAUTH_UNSUPPORTED_GRANT_TYPE', 'the grant type is not supported');
  }
}

export class InvalidScopeError extends OAuthError {
  readonly error = 'invalid_scope';
  readonly status = 400;
  constructor(logReason: string) {
    super('ERR_OAUTH_INVALID_SCOPE', 'the requested scope is invalid or not granted', { logReason });
  }
}

/**
 * RFC 8707 §2: the `resource` is not one Gatehouse issues tokens for (unknown, not an absolute URI,
 * with a fragment, given twice), or not the one the refreshed session was granted for. One message
 * for every cause; which check failed goes to the log.
 */
export class InvalidTargetError extends OAuthError {
  readonly error = 'invalid_target';
  readonly status = 400;
  constructor(logReason: string) {
    super('ERR_OAUTH_INVALID_TARGET', 'the requested resource is invalid or unknown', { logReason });
  }
}

/**
 * The password was right and the account has a second factor: no session and no token yet, only
 * `challenge` (`ghm_…`, single use, minutes), which the factor step (the MFA grant, the JSON
 * `/auth/login/mfa`, a second `POST /auth/session`) exchanges with a code for what the password
 * step would have given. Only who knows the password gets this answer.
 */
export class MfaRequiredError extends OAuthError {
  readonly error = 'mfa_required';
  readonly status = 403;
  readonly challenge: string;
  /** Whole seconds the challenge lives. */
  readonly expiresIn: number;
  constructor(challenge: string, expiresIn: number) {
    super('ERR_MFA_REQUIRED', 'a second factor is required: present the mfa_challenge with a one-time code', { logReason: 'second factor required' });
    this.challenge = challenge;
    this.expiresIn = expiresIn;
  }
}

/** Production without GATEHOUSE_KEY_ENCRYPTION_KEY: TOTP secrets would have nothing to be sealed under. */
export class TotpUnavailableError extends GatehouseError {
  constructor() {
    super('ERR_TOTP_UNAVAILABLE', 'TOTP is not available on this server (no key-encryption key is configured)', {
      logReason: 'GATEHOUSE_KEY_ENCRYPTION_KEY is not set: TOTP enrolment refused',
    });
  }
}

export class StoreUnavailableError extends GatehouseError {
  constructor(logReason: string, cause?: unknown) {
    super('ERR_STORE_UNAVAILABLE', 'service temporarily unavailable', { logReason, cause });
  }
}

/** This instance is closing: a request that reached it meanwhile should be retried on another. */
export class ShuttingDownError extends GatehouseError {
  constructor() {
    super('ERR_SHUTTING_DOWN', 'service shutting down, retry', { logReason: 'request arrived while the server was closing' });
  }
}

/**
 * Too many requests or failed logins (RFC 6585 §4: 429 with `Retry-After`). One message whatever
 * the limit, so the answer never says which limit tripped or whether the account exists; the limit
 * goes to the log only.
 */
export class ThrottledError extends GatehouseError {
  /** Whole seconds, at least 1: the `Retry-After` value. */
  readonly retryAfterSeconds: number;
  constructor(retryAfterMs: number, limit: string) {
    super('ERR_THROTTLED', 'too many requests; try again later', { logReason: `limit ${limit}` });
    this.retryAfterSeconds = Math.max(1, Math.ceil(retryAfterMs / 1000));
  }
}
