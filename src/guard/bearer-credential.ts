import { MalformedCredentialError } from '../errors/errors.js';

/** RFC 6750 §2.1: b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=" */
const BEARER = /^Bearer +([A-Za-z0-9\-._~+/]+=*) *$/i;
const SCHEME = /^([A-Za-z0-9!#$%&'*+.^_`|~-]+)(?: |$)/;

export interface CredentialSource {
  /** Node's `rawHeaders`: name/value pairs as received, duplicates kept. */
  readonly rawHeaders: readonly string[];
  /** The request target's query string without "?" (may be empty). */
  readonly query: string;
}

/** Every Authorization header value as received. Node keeps only the first of duplicates, so read the raw list. */
export function authorizationHeaders(rawHeaders: readonly string[]): string[] {
  const values: string[] = [];
  for (let i = 0; i < rawHeaders.length; i += 2) {
    if (rawHeaders[i]?.toLowerCase() === 'authorization') values.push(rawHeaders[i + 1] ?? '');
  }
  return values;
}

/**
 * Step 1 of the guard: find the bearer token. Only `Authorization: Bearer` is read.
 * Returns `undefined` when there is no credential (including another scheme such as Basic).
 * Throws MalformedCredentialError (RFC 6750 `invalid_request`) for a token in the query string,
 * two Authorization headers, or a Bearer header that does not parse.
 */
export function extractBearerCredential(source: CredentialSource): string | undefined {
  if (source.query !== '' && new URLSearchParams(source.query).has('access_token')) {
    // RFC 6750 §2.3 allows it; RFC 9700 §2.5 says not to: URLs end up in logs and Referer headers.
    throw new MalformedCredentialError('access token in the query string');
  }
  const values = authorizationHeaders(source.rawHeaders);
  if (values.length === 0) return undefined;
  if (values.length > 1) throw new MalformedCredentialError('more than one Authorization header');
  const value = (values[0] as string).trim();
  const scheme = SCHEME.exec(value)?.[1];
  if (scheme === undefined) throw new MalformedCredentialError('unparseable Authorization header');
  if (scheme.toLowerCase() !== 'bearer') return undefined;
  const token = BEARER.exec(value)?.[1];
  if (token === undefined) throw new MalformedCredentialError('malformed Bearer credential');
  return token;
}
