import { stringifySetCookie, type SerializeOptions } from 'cookie';
import { InvalidGrantError, InvalidRequestError } from '../errors/errors.js';
import { assertNotCrossSite, csrfFactsFrom } from '../guard/csrf-layers.js';
import type { TrustedOrigins } from '../guard/trusted-origins.js';
import type { OAuthClient } from '../oauth/clients.js';
import type { TokenResponse } from '../oauth/token-request.js';
import { issuerCookiesSecure, refreshCookieName } from './cookie-names.js';
import { readSessionCookie } from './session-cookie.js';

export { refreshCookieName };

/**
 * The refresh token of a client in cookie mode, held by the browser where no script can read it.
 *
 * The cookie is scoped to `/auth/refresh`, its one reader: the browser sends it nowhere else (not
 * to the APIs, not to `/auth/token`, whose form body keeps the RFC 6749 shape). `SameSite=Strict`:
 * no cross-site request carries it, not even a top-level navigation; the CSRF layers at
 * `/auth/refresh` refuse what a same-site sibling could still send.
 */
export const REFRESH_COOKIE_PATH = '/auth/refresh';

/** The path the cookie is scoped to: `/auth/refresh` under the issuer's path (the mount prefix of a host app). */
export function refreshCookiePath(issuer: string): string {
  return `${new URL(issuer).pathname.replace(/\/+$/, '')}${REFRESH_COOKIE_PATH}`;
}

function attributes(issuer: string): SerializeOptions {
  // Secure exactly when the name is `__Secure-`: the browser keeps such a cookie only then.
  return { httpOnly: true, secure: issuerCookiesSecure(issuer), sameSite: 'strict', path: refreshCookiePath(issuer) };
}

/** `maxAgeSeconds`: the session's absolute lifetime (the server refuses the token past its session anyway). */
export function serializeRefreshCookie(issuer: string, refreshToken: string, maxAgeSeconds: number): string {
  return stringifySetCookie(refreshCookieName(issuer), refreshToken, { ...attributes(issuer), maxAge: Math.max(0, Math.floor(maxAgeSeconds)) });
}

/** The `Set-Cookie` value that removes the cookie (same name, path and attributes, so the browser matches it). */
export function clearRefreshCookie(issuer: string): string {
  return stringifySetCookie(refreshCookieName(issuer), '', { ...attributes(issuer), maxAge: 0, expires: new Date(0) });
}

/** A token response as the client gets it: in cookie mode the refresh token leaves the body for the cookie. */
export interface DeliveredTokens {
  readonly body: Omit<TokenResponse, 'refresh_token'> & { readonly refresh_token?: string };
  /** The refresh token to set as the cookie; undefined: it is in the body. */
  readonly cookieToken: string | undefined;
}

export function deliverTokens(client: OAuthClient | undefined, response: TokenResponse): DeliveredTokens {
  if (client?.refreshTokenCookie !== true) return { body: response, cookieToken: undefined };
  const { refresh_token: cookieToken, ...body } = response;
  return { body, cookieToken };
}

/** What `/auth/refresh` was given: the body's token and the cookie as read (`'malformed'`: repeated or oversized). */
export interface PresentedRefresh {
  readonly client: OAuthClient;
  readonly bodyToken: string | undefined;
  readonly cookie: ReturnType<typeof readSessionCookie>;
}

/**
 * The refresh token to spend, or the refusal. A client without cookie mode never has its cookie
 * read (a stray cookie from another client on this origin is not its token). For a cookie-mode
 * client the token comes from one place only: body and cookie together is ambiguous, refused
 * (400 invalid_request) before anything is spent; a repeated cookie (a sibling planting a second
 * one must not get to choose) is invalid_grant, the answer of any dead token, and neither copy is
 * spent. The caller runs the CSRF layers first whenever {@link usesCookie} is true.
 */
export function refreshTokenToSpend(presented: PresentedRefresh): string {
  const cookie = presented.client.refreshTokenCookie === true ? presented.cookie : undefined;
  if (cookie !== undefined && presented.bodyToken !== undefined) {
    throw new InvalidRequestError('refresh token given twice', 'refresh token both in the body and in the cookie');
  }
  if (cookie === 'malformed') throw new InvalidGrantError('refresh cookie repeated or oversized');
  const token = cookie ?? presented.bodyToken;
  if (token === undefined) throw new InvalidRequestError('missing refresh_token', 'no refresh token in the body or the cookie');
  return token;
}

/** Whether the request brings a cookie this client reads: then it is ambient, and the CSRF layers apply. */
export function usesCookie(presented: Pick<PresentedRefresh, 'client' | 'cookie'>): boolean {
  return presented.client.refreshTokenCookie === true && presented.cookie !== undefined;
}

/** The request as `/auth/refresh` reads it: raw header values by lower-case name (the guard's `RequestFacts` fits). */
export interface RefreshRequest {
  readonly method: string;
  header(name: string): readonly string[];
}

/**
 * The refresh token `/auth/refresh` spends: {@link refreshTokenToSpend} behind the CSRF layers 1–2
 * (Fetch Metadata, else Origin / Referer against the trusted origins) whenever the cookie is read,
 * because a cookie is ambient. Refused (403 `ERR_CSRF`) before anything is spent. No content-type
 * layer: a cookie refresh may have no body at all.
 */
export function refreshTokenOfRequest(
  request: RefreshRequest,
  client: OAuthClient,
  bodyToken: string | undefined,
  issuer: string,
  trusted: TrustedOrigins,
): string {
  const presented = { client, bodyToken, cookie: readSessionCookie(request.header('cookie'), refreshCookieName(issuer)) };
  if (usesCookie(presented)) assertNotCrossSite(csrfFactsFrom(request, false), trusted);
  return refreshTokenToSpend(presented);
}
