/**
 * Origins (RFC 6454: scheme, host, port) Gatehouse trusts: the issuer's own, and those listed in
 * GATEHOUSE_ALLOWED_ORIGINS. The CSRF layers (`csrf-layers.ts`) and the `return_to` check of the
 * hosted pages ask the same object.
 */

/** A list entry that is not an exact origin; `entry` is the offending value as given. */
export class OriginListError extends Error {
  readonly entry: string;
  constructor(entry: string, why: string) {
    super(`${JSON.stringify(entry)} is not an origin (${why}); write scheme://host[:port], e.g. https://app.example.com`);
    this.name = 'OriginListError';
    this.entry = entry;
  }
}

// scheme://authority and nothing after: a path (even "/"), a query or a fragment is refused, not dropped.
const ORIGIN_SHAPE = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/[^/?#\\]+$/;

/**
 * One exact origin, serialized as browsers send it in `Origin` (`new URL(x).origin`: lower-case
 * host, default port dropped). Throws OriginListError for a path, query, fragment, credentials,
 * wildcard, `null`, or a scheme other than http(s) (whose origin is opaque).
 *
 * @example
 * parseOrigin('https://App.Example.com:443'); // 'https://app.example.com'
 */
export function parseOrigin(entry: string): string {
  if (entry.includes('*')) throw new OriginListError(entry, 'wildcards are not accepted');
  if (!ORIGIN_SHAPE.test(entry)) throw new OriginListError(entry, 'no path, query or fragment, not even a trailing "/"');
  let url: URL;
  try {
    url = new URL(entry);
  } catch {
    throw new OriginListError(entry, 'not a URL');
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new OriginListError(entry, 'the scheme must be http or https');
  if (url.username !== '' || url.password !== '') throw new OriginListError(entry, 'no user or password');
  return url.origin;
}

/**
 * A GATEHOUSE_ALLOWED_ORIGINS / GATEHOUSE_CORS_ORIGINS value: origins separated by commas or
 * whitespace, each normalized by {@link parseOrigin}, duplicates dropped. Throws OriginListError
 * naming the first entry that is not an exact origin.
 */
export function parseOriginList(value: string): string[] {
  const origins = value
    .split(/[\s,]+/)
    .filter((entry) => entry.length > 0)
    .map(parseOrigin);
  return [...new Set(origins)];
}

export interface TrustedOrigins {
  /** The issuer's origin, always trusted. */
  readonly issuerOrigin: string;
  /**
   * Whether `origin` is trusted. Compared exactly, never normalized: give it an `Origin` header
   * value as sent, or `new URL(x).origin`. `null` (an opaque origin) is never trusted.
   */
  has(origin: string): boolean;
}

/**
 * @example
 * const trusted = trustedOrigins({ issuer: 'https://auth.example.com', allowedOrigins: ['https://app.example.com'] });
 * trusted.has('https://app.example.com');              // true
 * trusted.has('https://auth.example.com.evil.test');   // false
 */
export function trustedOrigins(config: { readonly issuer: string; readonly allowedOrigins: readonly string[] }): TrustedOrigins {
  const issuerOrigin = new URL(config.issuer).origin;
  const origins = new Set([issuerOrigin, ...config.allowedOrigins]);
  origins.delete('null');
  return Object.freeze({ issuerOrigin, has: (origin: string) => origins.has(origin) });
}
