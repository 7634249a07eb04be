/**
 * Where a hosted page may send the browser after it is done (`?return_to=`): only back to
 * Gatehouse itself or to an origin the operator trusts (GATEHOUSE_ALLOWED_ORIGINS). Anything else
 * would make Gatehouse an open redirect (CWE-601, OWASP Unvalidated Redirects cheat sheet), which
 * phishing uses to borrow our name for a link to theirs.
 */

/** What the check needs from `trustedOrigins(config)` (src/guard/trusted-origins.ts). */
export interface ReturnToTrust {
  /** The issuer's origin (`https://auth.example.com`); relative targets resolve against it. */
  readonly issuerOrigin: string;
  /** Exact origin match against GATEHOUSE_ALLOWED_ORIGINS. */
  has(origin: string): boolean;
}

/** Longer targets are refused rather than carried through a form and a Location header. */
export const MAX_RETURN_TO_LENGTH = 2048;

/**
 * The target to redirect to: a path (`/account?tab=x`) when it is on the issuer's origin, so the
 * browser stays on the host it used, or the full URL of a trusted origin. Every other input gives
 * `fallback`: protocol-relative (`//evil`), backslashes (`/\evil`, which browsers read as `//`),
 * control characters and whitespace (which browsers strip before parsing), userinfo
 * (`https://ours@evil`), schemes other than http(s) (`javascript:`, `data:`), untrusted origins.
 * The value returned is re-serialised from the parsed URL, never the raw input.
 *
 * @example safeReturnTo('/account', trust) // '/account'
 * @example safeReturnTo('https://evil.example/', trust) // '/account'
 */
export function safeReturnTo(raw: string | undefined, trusted: ReturnToTrust, fallback = '/account'): string {
  return checked(raw, trusted) ?? fallback;
}

function checked(raw: string | undefined, trusted: ReturnToTrust): string | undefined {
  if (raw === undefined || raw === '' || raw.length > MAX_RETURN_TO_LENGTH) return undefined;
  // WHATWG URL parsing strips leading/trailing C0 controls and spaces and removes tabs and newlines
  // anywhere, and treats "\" like "/": each lets "/\t/evil" or "/\\evil" pass a naive prefix check.
  if (hasControlSpaceOrBackslash(raw)) return undefined;
  if (raw.startsWith('//')) return undefined;
  let url: URL;
  try {
    url = new URL(raw, `${trusted.issuerOrigin}/`);
  } catch {
    return undefined;
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return undefined;
  if (url.username !== '' || url.password !== '') return undefined;
  if (url.origin === trusted.issuerOrigin) {
    const local = `${url.pathname}${url.search}${url.hash}`;
    // Dot segments can collapse into a protocol-relative path: "/.//evil" parses to the path "//evil".
    return local.startsWith('//') ? undefined : local;
  }
  return trusted.has(url.origin) ? url.href : undefined;
}

/** C0 controls, space, DEL, C1 controls or a backslash anywhere. */
function hasControlSpaceOrBackslash(raw: string): boolean {
  for (let i = 0; i < raw.length; i++) {
    const c = raw.charCodeAt(i);
    if (c <= 0x20 || (c >= 0x7f && c <= 0x9f) || c === 0x5c) return true;
  }
  return false;
}
