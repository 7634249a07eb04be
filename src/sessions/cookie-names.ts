/**
 * Every cookie Gatehouse sets, named in one place with the one rule for their prefixes. Over https
 * a cookie is Secure and prefixed: `__Host-` (Secure, Path=/, no Domain, so no sibling subdomain
 * can set or shadow it) or, for a cookie scoped to a path, `__Secure-`. A development issuer on
 * plain http cannot have a Secure cookie on 127.0.0.1, and the browser drops a prefixed cookie
 * without Secure, so development uses the plain names.
 */
export function issuerCookiesSecure(issuer: string): boolean {
  return new URL(issuer).protocol === 'https:';
}

const named =
  (base: string, prefix: '__Host-' | '__Secure-') =>
  (issuer: string): string =>
    issuerCookiesSecure(issuer) ? `${prefix}${base}` : base;

/** The cookie session (`<session id>.<secret>`). */
export const sessionCookieName = named('gatehouse_session', '__Host-');

/** The hosted pages' CSRF secret (the synchronizer token's other half). */
export const csrfCookieName = named('gatehouse_csrf', '__Host-');

/**
 * The refresh token of a client in cookie mode (`refreshTokenCookie`). Scoped to `/auth/refresh`,
 * so `__Secure-`, never `__Host-` (which demands `Path=/`).
 */
export const refreshCookieName = named('gatehouse_refresh', '__Secure-');
