import { isIPv4 } from 'node:net';

/**
 * The URLs the SDK fetches trust material or sends a secret to (the JWKS, the revocation catch-up)
 * must be https: over plain http anyone on the path could swap the keys or read the secret. Plain
 * http is allowed on loopback only (127.0.0.0/8, ::1, localhost), where nothing is on the path.
 * Throws TypeError (a caller mistake, found at construction).
 */
export function secureUrl(uri: string | URL, name: string): URL {
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    throw new TypeError(`${name} must be an https URL`);
  }
  if (url.protocol === 'https:') return url;
  if (url.protocol === 'http:' && isLoopback(url.hostname)) return url;
  throw new TypeError(`${name} must be an https URL (plain http only on loopback: 127.0.0.0/8, ::1, localhost)`);
}

/** `hostname` as WHATWG URL leaves it: lower case, IPv4 in dotted decimal, IPv6 in brackets. */
function isLoopback(hostname: string): boolean {
  return hostname === 'localhost' || hostname === '[::1]' || (isIPv4(hostname) && hostname.startsWith('127.'));
}
