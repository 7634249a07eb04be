import {
  ErrorCodes,
  CsrfError,
  GatehouseError,
  InsufficientScopeError,
  StepUpRequiredError,
  MfaRequiredError,
  OAuthError,
  PasswordPolicyError,
  RequestError,
  ShuttingDownError,
  StoreUnavailableError,
  ThrottledError,
  ValidationError,
  type ErrorCode,
  type FieldIssue,
} from '../errors/errors.js';
import type { ErrorStyle } from './fastify-augment.js';
import { stepUpChallengeParameters } from '@gatehouse/verify/internal';

export const REALM = 'gatehouse';

export interface ErrorResponse {
  readonly status: number;
  readonly contentType: 'application/problem+json' | 'application/json';
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Readonly<Record<string, unknown>>;
}

/** The single table from error code to HTTP status and title. A test checks every code is here and documented. */
export const HTTP_STATUS: Readonly<Record<ErrorCode, { status: number; title: string }>> = {
  ERR_CONFIG_INVALID: { status: 500, title: 'Internal Server Error' },
  ERR_VALIDATION: { status: 400, title: 'Invalid request' },
  ERR_PASSWORD_POLICY: { status: 400, title: 'Password not accepted' },
  ERR_USERNAME_TAKEN: { status: 409, title: 'Username taken' },
  ERR_TENANT_TAKEN: { status: 409, title: 'Tenant exists' },
  ERR_CURRENT_PASSWORD_WRONG: { status: 403, title: 'Current password incorrect' },
  ERR_PASSWORD_CHANGED_CONCURRENTLY: { status: 409, title: 'Password changed concurrently' },
  ERR_INVALID_CODE: { status: 400, title: 'Invalid code' },
  ERR_EMAIL_TAKEN: { status: 409, title: 'Email address taken' },
  ERR_PASSKEY_REFUSED: { status: 400, title: 'Passkey refused' },
  ERR_MFA_REQUIRED: { status: 403, title: 'Second factor required' },
  ERR_TOTP_UNAVAILABLE: { status: 409, title: 'TOTP not available' },
  ERR_NOT_FOUND: { status: 404, title: 'Not found' },
  ERR_METHOD_NOT_ALLOWED: { status: 405, title: 'Method not allowed' },
  ERR_PAYLOAD_TOO_LARGE: { status: 413, title: 'Payload too large' },
  ERR_UNSUPPORTED_MEDIA_TYPE: { status: 415, title: 'Unsupported media type' },
  ERR_MALFORMED_BODY: { status: 400, title: 'Malformed body' },
  ERR_MALFORMED_REQUEST: { status: 400, title: 'Malformed request' },
  ERR_URI_TOO_LONG: { status: 414, title: 'URI too long' },
  ERR_EXPECTATION_FAILED: { status: 417, title: 'Expectation failed' },
  ERR_REQUEST_TIMEOUT: { status: 408, title: 'Request timeout' },
  ERR_HEADERS_TOO_LARGE: { status: 431, title: 'Request header fields too large' },
  ERR_NO_CREDENTIAL: { status: 401, title: 'Authentication required' },
  ERR_MALFORMED_CREDENTIAL: { status: 400, title: 'Malformed credential' },
  ERR_INVALID_TOKEN: { status: 401, title: 'Invalid token' },
  ERR_INSUFFICIENT_SCOPE: { status: 403, title: 'Insufficient scope' },
  ERR_STEP_UP_REQUIRED: { status: 401, title: 'Stronger or more recent authentication required' },
  ERR_FORBIDDEN: { status: 403, title: 'Forbidden' },
  ERR_CSRF: { status: 403, title: 'Cross-site request refused' },
  ERR_OAUTH_INVALID_REQUEST: { status: 400, title: 'Invalid request' },
  // Outside the OAuth token endpoint (the JSON login), bad credentials are a plain 401.
  ERR_OAUTH_INVALID_GRANT: { status: 401, title: 'Invalid credentials' },
  ERR_OAUTH_INVALID_CLIENT: { status: 401, title: 'Invalid client' },
  ERR_OAUTH_UNAUTHORIZED_CLIENT: { status: 400, title: 'Unauthorized client' },
  ERR_OAUTH_UNSUPPORTED_GRANT_TYPE: { status: 400, title: 'Unsupported grant type' },
  ERR_OAUTH_INVALID_SCOPE: { status: 400, title: 'Invalid scope' },
  ERR_OAUTH_INVALID_TARGET: { status: 400, title: 'Invalid target' },
  ERR_STORE_UNAVAILABLE: { status: 503, title: 'Service unavailable' },
  ERR_SHUTTING_DOWN: { status: 503, title: 'Service unavailable' },
  ERR_THROTTLED: { status: 429, title: 'Too many requests' },
  ERR_INTERNAL: { status: 500, title: 'Internal Server Error' },
};

/** RFC 6750 §3 challenge for errors raised by the guard. */
function bearerChallenge(error: GatehouseError): string | undefined {
  switch (error.code) {
    case 'ERR_NO_CREDENTIAL':
      return `Bearer realm="${REALM}"`;
    case 'ERR_MALFORMED_CREDENTIAL':
      return `Bearer realm="${REALM}", error="invalid_request"`;
    case 'ERR_INVALID_TOKEN':
      return `Bearer realm="${REALM}", error="invalid_token"`;
    case 'ERR_INSUFFICIENT_SCOPE':
      return error instanceof InsufficientScopeError
        ? `Bearer realm="${REALM}", error="insufficient_scope", scope="${error.requiredScopes.join(' ')}"`
        : `Bearer realm="${REALM}", error="insufficient_scope"`;
    case 'ERR_STEP_UP_REQUIRED':
      // RFC 9470 §3: the client asks for a new authentication meeting acr_values / max_age.
      return error instanceof StepUpRequiredError
        ? `Bearer realm="${REALM}", error="insufficient_user_authentication", ${stepUpChallengeParameters(error.requirement)}`
        : `Bearer realm="${REALM}", error="insufficient_user_authentication"`;
    default:
      return undefined;
  }
}

function fieldIssues(error: GatehouseError): readonly FieldIssue[] | undefined {
  if (error instanceof ValidationError) return error.issues;
  if (error instanceof PasswordPolicyError) return [{ field: error.field, message: error.message }];
  return undefined;
}

/**
 * The wait an unavailable store's 503 asks for. A store that did not answer is one that went away
 * (Redis came back within about 2 s in test/faults), a statement cancelled by the statement
 * timeout, or no pooled connection free within 5 s: a second is long enough for any of them to
 * have cleared and short enough not to keep a client from a store already back. A retry is always
 * safe: a request answered 503 changed nothing (a rotation is never answered 503 once it committed).
 */
const STORE_RETRY_AFTER_SECONDS = 1;

/**
 * RFC 9110 §10.2.3 / RFC 6585 §4: how long to wait before retrying, in whole seconds: a throttled
 * client its limit's window, every 503 of an unavailable store {@link STORE_RETRY_AFTER_SECONDS}.
 * Not a shutting-down instance's 503: that one is retried at once, on another instance.
 */
function retryAfter(error: GatehouseError): Record<string, string> {
  if (error instanceof ThrottledError) return { 'retry-after': String(error.retryAfterSeconds) };
  if (error instanceof StoreUnavailableError) return { 'retry-after': String(STORE_RETRY_AFTER_SECONDS) };
  return {};
}

/** The challenge an MFA user's password step answers with (both error styles carry it). */
function mfaChallenge(error: GatehouseError): Record<string, string | number> {
  return error instanceof MfaRequiredError ? { mfa_challenge: error.challenge, expires_in: error.expiresIn } : {};
}

/** RFC 6749 §5.2 body for the token endpoint; request-shape failures become `invalid_request`. */
function oauthResponse(error: GatehouseError): ErrorResponse {
  const noStore = { 'cache-control': 'no-store', pragma: 'no-cache' };
  if (error instanceof OAuthError) {
    const headers = error.status === 401 ? { ...noStore, 'www-authenticate': `Basic realm="${REALM}"` } : noStore;
    const body = { error: error.error, error_description: error.message, ...mfaChallenge(error) };
    return { status: error.status, contentType: 'application/json', headers, body };
  }
  if (error instanceof StoreUnavailableError || error instanceof ShuttingDownError) {
    return {
      status: 503,
      contentType: 'application/json',
      headers: { ...noStore, ...retryAfter(error) },
      body: { error: 'temporarily_unavailable', error_description: error.message },
    };
  }
  if (error instanceof ThrottledError) {
    // `slow_down` is the OAuth error registered for token endpoint responses (RFC 8628 §3.5) that means "too fast".
    return {
      status: 429,
      contentType: 'application/json',
      headers: { ...noStore, ...retryAfter(error) },
      body: { error: 'slow_down', error_description: error.message },
    };
  }
  // A cookie refresh refused by the CSRF layers (/auth/refresh): 403, in the OAuth shape.
  const status = error instanceof RequestError || error instanceof ValidationError || error instanceof CsrfError ? HTTP_STATUS[error.code].status : 500;
  const description = status === 500 ? 'the server could not process the request' : error.message;
  return {
    status,
    contentType: 'application/json',
    headers: noStore,
    body: { error: status === 500 ? 'server_error' : 'invalid_request', error_description: description },
  };
}

/** Maps any GatehouseError to its HTTP response. The only place that knows about statuses. */
export function toErrorResponse(error: GatehouseError, style: ErrorStyle, requestId: string): ErrorResponse {
  if (style === 'oauth') return oauthResponse(error);
  const { status, title } = HTTP_STATUS[error.code];
  const challenge = bearerChallenge(error);
  const issues = fieldIssues(error);
  const body: Record<string, unknown> = {
    type: `urn:gatehouse:error:${error.code}`,
    title,
    status,
    code: error.code,
    detail: status >= 500 ? title : error.message,
    request_id: requestId,
  };
  if (issues !== undefined) body.errors = issues;
  if (error instanceof InsufficientScopeError) body.required_scopes = error.requiredScopes;
  Object.assign(body, mfaChallenge(error));
  const headers = { ...(challenge === undefined ? {} : { 'www-authenticate': challenge }), ...retryAfter(error) };
  return { status, contentType: 'application/problem+json', headers, body };
}

export function isErrorCode(value: string): value is ErrorCode {
  return (ErrorCodes as readonly string[]).includes(value);
}
