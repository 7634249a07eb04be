import { InvalidRequestError } from '../errors/errors.js';
import { authorizationHeaders } from '../guard/bearer-credential.js';
import type { BasicClientCredentials } from '../oauth/client-identification.js';

/** RFC 6749 §2.3.1: client_id and secret, each form-urlencoded, joined by ":" and base64-encoded. */
export function basicCredentials(rawHeaders: readonly string[]): BasicClientCredentials | undefined {
  const headers = authorizationHeaders(rawHeaders);
  if (headers.length === 0) return undefined;
  if (headers.length > 1) throw new InvalidRequestError('more than one Authorization header');
  const match = /^Basic +([A-Za-z0-9+/]+=*) *$/i.exec(headers[0] ?? '');
  if (match === null) throw new InvalidRequestError('unsupported Authorization header at the token endpoint');
  const decoded = Buffer.from(match[1] as string, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) throw new InvalidRequestError('malformed Basic credentials');
  const formDecode = (s: string) => decodeURIComponent(s.replaceAll('+', ' '));
  try {
    return { clientId: formDecode(decoded.slice(0, colon)), clientSecret: formDecode(decoded.slice(colon + 1)) };
  } catch {
    throw new InvalidRequestError('malformed Basic credentials');
  }
}
