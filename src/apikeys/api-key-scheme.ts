import { NO_AUDIT_CONTEXT } from '../audit/audit-event.js';
import { MalformedCredentialError, ThrottledError } from '../errors/errors.js';
import { extractBearerCredential } from '../guard/bearer-credential.js';
import type { CredentialScheme, RequestFacts } from '../guard/credential-scheme.js';
import { API_KEY_HEADER } from './api-key-header.js';
import type { ApiKeys } from './api-keys.js';
import { claimsApiKey } from './api-key-token.js';

export { API_KEY_HEADER };

/**
 * `X-API-Key: ghk_…` or `Authorization: Bearer ghk_…`. Both at once, or two X-API-Key headers, is
 * a request the client must fix (400): which one would count is exactly what must not be guessed.
 * A bearer token that is not a `ghk_` key belongs to the bearer scheme: absent here.
 */
export function readApiKey(request: RequestFacts): string | undefined {
  const headers = request.header(API_KEY_HEADER);
  if (headers.length > 1) throw new MalformedCredentialError('more than one X-API-Key header');
  const bearer = extractBearerCredential({ authorization: request.header('authorization'), query: request.query });
  const fromBearer = bearer !== undefined && claimsApiKey(bearer) ? bearer : undefined;
  const header = headers[0]?.trim();
  // A key never holds a comma: one there is two headers folded into one (by a proxy, or a client).
  if (header?.includes(',') === true) throw new MalformedCredentialError('more than one X-API-Key value');
  if (header !== undefined && header.length > 0) {
    if (request.header('authorization').length > 0) throw new MalformedCredentialError('both X-API-Key and Authorization are present');
    return header;
  }
  return fromBearer;
}

/** Answers a refusal (`GATEHOUSE_LIMIT_API_KEY`) for a key past its budget. */
export type ApiKeyLimit = (keyId: string) => Promise<{ readonly retryAfterMs: number; readonly limit: string } | undefined>;

export function apiKeyScheme(apiKeys: Pick<ApiKeys, 'authenticate'>, limit?: ApiKeyLimit): CredentialScheme<string> {
  return {
    name: 'api_key',
    ambient: false,
    read: readApiKey,
    async authenticate(token, request) {
      const principal = await apiKeys.authenticate(token, request.origin ?? NO_AUDIT_CONTEXT);
      // Over its budget, a valid key is told to wait (429 with Retry-After), never that it is invalid.
      const refusal = await limit?.(principal.keyId);
      if (refusal !== undefined) throw new ThrottledError(refusal.retryAfterMs, refusal.limit);
      return principal;
    },
  };
}
