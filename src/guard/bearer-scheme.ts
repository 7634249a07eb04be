import type { Authenticator } from './authenticator.js';
import { extractBearerCredential } from './bearer-credential.js';
import type { CredentialScheme } from './credential-scheme.js';

/**
 * `Authorization: Bearer <access token>` (RFC 6750), read with the SDK's reader so resource
 * servers read credentials exactly as Gatehouse does. Another scheme in the header (Basic, say)
 * is no bearer credential: absent, not malformed.
 */
export function bearerScheme(authenticator: Authenticator): CredentialScheme<string> {
  return {
    name: 'bearer',
    ambient: false,
    read: (request) => extractBearerCredential({ authorization: request.header('authorization'), query: request.query }),
    authenticate: (token) => authenticator.authenticate(token),
  };
}
