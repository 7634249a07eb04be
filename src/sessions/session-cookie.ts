import { hash, randomBytes, timingSafeEqual } from 'node:crypto';
import { parseCookie, stringifySetCookie, type SerializeOptions } from 'cookie';
import { issuerCookiesSecure, sessionCookieName } from './cookie-names.js';

export { sessionCookieName };

/**
 * The browser-session cookie: its name and attributes, its value `<session id>.<secret>`, the
 * secret and its stored digest.
 *
 * Over https the name carries the `__Host-` prefix (RFC 6265bis §4.1.3.2): the browser accepts it
 * only with `Secure`, `Path=/` and no `Domain`, so a sibling subdomain or a plain-http page can
 * neither set nor shadow it. In development over plain `http://` (a loopback issuer) a browser
 * drops a `Secure` cookie set over http for hosts like 127.0.0.1, and `__Host-` needs `Secure`, so
 * the cookie is `gatehouse_session` without `Secure`; production refuses a non-https issuer.
 */
export const SECURE_SESSION_COOKIE = '__Host-gatehouse_session';
export const DEVELOPMENT_SESSION_COOKIE = 'gatehouse_session';

/** A well-formed value is 36 + 1 + 43 = 80 characters; anything past this is not worth reading. */
export const MAX_SESSION_COOKIE_LENGTH = 256;

const SECRET_BYTES = 32;
// Lower-case UUID (as randomUUID writes it), a dot, 32 bytes in unpadded base64url.
const VALUE_SHAPE = /^([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\.([A-Za-z0-9_-]{43})$/;

// Lax, not Strict: a link from elsewhere to a page of ours arrives signed in; unsafe cross-site
// requests carry no cookie, and the CSRF layers refuse the rest (src/guard/csrf-layers.ts).
function attributes(issuer: string): SerializeOptions {
  // Secure exactly when the name is `__Host-`: the browser keeps such a cookie only then.
  return { httpOnly: true, secure: issuerCookiesSecure(issuer), sameSite: 'lax', path: '/' };
}

/** The `Set-Cookie` value of a new session; `maxAgeSeconds` is the session's absolute lifetime. */
export function serializeSessionCookie(issuer: string, value: string, maxAgeSeconds: number): string {
  return stringifySetCookie(sessionCookieName(issuer), value, { ...attributes(issuer), maxAge: Math.max(0, Math.floor(maxAgeSeconds)) });
}

/** The `Set-Cookie` value that removes the cookie (same name and attributes, so the browser matches it). */
export function clearSessionCookie(issuer: string): string {
  return stringifySetCookie(sessionCookieName(issuer), '', { ...attributes(issuer), maxAge: 0, expires: new Date(0) });
}

/**
 * The value of the cookie `name` from every `Cookie` header of a request (HTTP/2 may split them),
 * undefined when absent. `'malformed'` when it appears twice (a sibling subdomain or an http page
 * planting a second one must not get to choose which the server reads) or is oversized. Values are
 * taken raw, not percent-decoded: there is exactly one spelling of a valid value.
 */
const RAW_VALUES = { decode: (raw: string) => raw };

// oxlint-disable-next-line typescript/no-redundant-type-constituents -- the shared signature (interfaces.md); a real value 'malformed' fails the shape check anyway
export function readSessionCookie(cookieHeaders: readonly string[], name: string): string | undefined | 'malformed' {
  let found: string | undefined;
  for (const header of cookieHeaders) {
    // Most requests carry no such name at all: nothing to split and parse.
    if (!header.includes(name)) continue;
    for (const pair of header.split(';')) {
      // Only a pair that names it can be it (the library still parses it, whitespace and all).
      if (!pair.includes(name)) continue;
      // One pair at a time, so a repeat of the name is seen (parsing the header whole keeps the first).
      const value = parseCookie(pair, RAW_VALUES)[name];
      if (value === undefined) continue;
      if (found !== undefined || value.length > MAX_SESSION_COOKIE_LENGTH) return 'malformed';
      found = value;
    }
  }
  return found;
}

export interface SessionCookieValue {
  readonly sessionId: string;
  readonly secret: string;
}

/** Strict shape check; undefined for anything else (the caller answers as for no credential). */
export function parseSessionCookieValue(value: string): SessionCookieValue | undefined {
  const match = VALUE_SHAPE.exec(value);
  if (match === null) return undefined;
  return { sessionId: match[1]!, secret: match[2]! };
}

export interface NewSessionCookie {
  readonly value: string;
  /** What the store keeps: never the secret itself. */
  readonly secretDigest: string;
}

/** A new cookie value for `sessionId` with 256 bits from the CSPRNG. */
export function generateSessionCookie(sessionId: string): NewSessionCookie {
  const secret = randomBytes(SECRET_BYTES).toString('base64url');
  return { value: `${sessionId}.${secret}`, secretDigest: digestSessionSecret(secret) };
}

/**
 * SHA-256, not a password hash: the secret is 256 random bits, so there is no dictionary to try
 * and a leaked digest cannot be inverted by brute force; a slow hash would only cost every request.
 * (The same reasoning as the refresh-token digests.)
 */
export function digestSessionSecret(secret: string): string {
  return hash('sha256', secret, 'hex');
}

/** Constant-time comparison of the presented secret's digest with the stored one. */
export function sessionSecretMatches(secret: string, storedDigest: string): boolean {
  // On every cookie request: the one-shot hash into a Buffer, no Hash object nor hex round trip.
  const presented = hash('sha256', secret, 'buffer');
  const stored = Buffer.from(storedDigest, 'hex');
  // Both are 32 bytes when the store holds a real digest; a damaged row simply never matches.
  return presented.length === stored.length && timingSafeEqual(presented, stored);
}
