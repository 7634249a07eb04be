import { InvalidTokenError } from '../errors/errors.js';
import type { BrowserSessions } from '../sessions/browser-sessions.js';
import { readSessionCookie, sessionCookieName } from '../sessions/session-cookie.js';
import type { CredentialScheme } from './credential-scheme.js';

/** What `read` hands on for a duplicated or oversized cookie, so the log can say so. */
const MALFORMED = Symbol('malformed session cookie');

function wellFormed(credential: string | typeof MALFORMED): string {
  if (credential === MALFORMED) throw new InvalidTokenError('duplicated or oversized cookie');
  return credential;
}

/**
 * The browser's session cookie (`__Host-gatehouse_session`, or `gatehouse_session` on a plain-http
 * development issuer). Ambient: the browser attaches it by itself, so the guard ignores it when an
 * Authorization header is present, runs the cross-site checks after it, and answers every failure
 * (a duplicated, oversized, forged or ended cookie) with the 401 of no credential at all.
 */
export function sessionScheme(sessions: Pick<BrowserSessions, 'authenticate'>, issuer: string): CredentialScheme<string | typeof MALFORMED> {
  const name = sessionCookieName(issuer);
  return {
    name: 'session',
    ambient: true,
    read(request) {
      const value = readSessionCookie(request.header('cookie'), name);
      return value === 'malformed' ? MALFORMED : value;
    },
    authenticate: (credential) => sessions.authenticate(wellFormed(credential)),
    authenticateAfresh: (credential) => sessions.authenticate(wellFormed(credential), { afresh: true }),
  };
}
