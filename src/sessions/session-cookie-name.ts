/**
 * The session cookie's name. Over https it is `__Host-`-prefixed, so the browser keeps it only
 * when it is Secure, has Path=/ and no Domain (no sibling subdomain can set or shadow it). A
 * development issuer on plain http cannot have a Secure cookie on 127.0.0.1, and a `__Host-`
 * cookie without Secure is dropped, so development uses the plain name.
 */
export function sessionCookieName(issuer: string): string {
  return new URL(issuer).protocol === 'https:' ? '__Host-gatehouse_session' : 'gatehouse_session';
}
