import { authorizationHeaders, readBearerCredential, type CredentialSource } from '@gatehouse/verify/internal';
import { MalformedCredentialError } from '../errors/errors.js';

export { authorizationHeaders, type CredentialSource };

/**
 * Step 1 of the guard: find the bearer token, with the SDK's reader and the SDK's idea of where a
 * credential comes from (resource servers read credentials exactly as Gatehouse does). Returns
 * `undefined` when there is no credential (including another scheme such as Basic). Throws
 * MalformedCredentialError (RFC 6750 `invalid_request`) for a token in the query string, two
 * Authorization headers, or a Bearer header that does not parse.
 */
export function extractBearerCredential(source: CredentialSource): string | undefined {
  const credential = readBearerCredential(source);
  if (credential.kind === 'malformed') throw new MalformedCredentialError(credential.reason);
  return credential.kind === 'bearer' ? credential.token : undefined;
}
