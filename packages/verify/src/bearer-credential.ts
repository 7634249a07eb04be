/** RFC 6750 §2.1: b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=" */
const BEARER = /^Bearer +([A-Za-z0-9\-._~+/]+=*) *$/i;
const SCHEME = /^([A-Za-z0-9!#$%&'*+.^_`|~-]+)(?: |$)/;

export interface CredentialSource {
  /** Every Authorization header value as received (see {@link authorizationHeaders}). */
  readonly authorization: readonly string[];
  /** The request target's query string without "?" (may be empty). */
  readonly query: string;
}

/** No credential, a bearer token, or a malformed attempt (RFC 6750 `invalid_request`) and why. */
export type BearerCredential =
  { readonly kind: 'none' } | { readonly kind: 'bearer'; readonly token: string } | { readonly kind: 'malformed'; readonly reason: string };

/** Every Authorization header value in Node's `rawHeaders`: Node keeps only the first of duplicates elsewhere. */
export function authorizationHeaders(rawHeaders: readonly string[]): string[] {
  const values: string[] = [];
  for (let i = 0; i < rawHeaders.length; i += 2) {
    if (rawHeaders[i]?.toLowerCase() === 'authorization') values.push(rawHeaders[i + 1] ?? '');
  }
  return values;
}

/**
 * Finds the bearer token, as the Gatehouse server does and every adapter must: only
 * `Authorization: Bearer` counts; another scheme (Basic…) is no credential; a token in the query
 * string, two Authorization headers or a Bearer header that does not parse is malformed.
 */
export function readBearerCredential(source: CredentialSource): BearerCredential {
  if (source.query !== '' && new URLSearchParams(source.query).has('access_token')) {
    // RFC 6750 §2.3 allows it; RFC 9700 §2.5 says not to: URLs end up in logs and Referer headers.
    return { kind: 'malformed', reason: 'access token in the query string' };
  }
  if (source.authorization.length === 0) return { kind: 'none' };
  if (source.authorization.length > 1) return { kind: 'malformed', reason: 'more than one Authorization header' };
  const value = (source.authorization[0] as string).trim();
  const scheme = SCHEME.exec(value)?.[1];
  if (scheme === undefined) return { kind: 'malformed', reason: 'unparseable Authorization header' };
  if (scheme.toLowerCase() !== 'bearer') return { kind: 'none' };
  const token = BEARER.exec(value)?.[1];
  return token === undefined ? { kind: 'malformed', reason: 'malformed Bearer credential' } : { kind: 'bearer', token };
}

/** The query string of a request target (`/items?a=1` → `a=1`). */
export function queryOf(url: string): string {
  const i = url.indexOf('?');
  return i === -1 ? '' : url.slice(i + 1);
}
