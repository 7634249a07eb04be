import { authorizationHeaders, readBearerCredential } from '@gatehouse/verify';
import { MalformedCredentialError } from '../errors/errors.js';

export { authorizationHeaders };

export interface CredentialSource {
  /** Node's `rawHeaders`: name/value pairs as received, duplicates kept. */
  readonly rawHeaders: readonly string[];
  /** The request target's query string without "?" (may be empty). */
  readonly query: string;
}

/**
 * Step 1 of the guard: find the bearer token, with the SDK's reader (resource servers read
 * credentials exactly as Gatehouse does). Returns `undefined` when there is no credential
 * (including another scheme such as Basic). Throws MalformedCredentialError (RFC 6750
 * `invalid_request`) for a token in the query string, two Authorization headers, or a Bearer
 * header that does not parse.
 */
export function extractBearerCredential(source: CredentialSource): string | undefined {
  const credential = readBearerCredential({ authorization: authorizationHeaders(source.rawHeaders), query: source.query });
  if (credential.kind === 'malformed') throw new MalformedCredentialError(credential.reason);
  return credential.kind === 'bearer' ? credential.token : undefined;
}
