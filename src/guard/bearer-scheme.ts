import { API_KEY_HEADER } from '../apikeys/api-key-header.js';
import { claimsApiKey } from '../apikeys/api-key-token.js';
import { MalformedCredentialError } from '../errors/errors.js';
import type { Authenticator } from './authenticator.js';
import { extractBearerCredential } from './bearer-credential.js';
import type { CredentialScheme } from './credential-scheme.js';

/**
 * `Authorization: Bearer <access token>` (RFC 6750), read with the SDK's reader so resource
 * servers read credentials exactly as Gatehouse does. Another scheme in the header (Basic, say)
 * is no bearer credential: absent, not malformed. Nor is an API key (`Bearer ghk_…`): it is never
 * verified as a JWT; the api_key scheme reads it.
 */
export function bearerScheme(authenticator: Authenticator): CredentialScheme<string> {
  return {
    name: 'bearer',
    ambient: false,
    read: (request) => {
      const token = extractBearerCredential({ authorization: request.header('authorization'), query: request.query });
      if (token === undefined || claimsApiKey(token)) return undefined;
      // Two credentials at once: which one counts must not be guessed (the api_key scheme refuses it too).
      if (request.header(API_KEY_HEADER).length > 0) throw new MalformedCredentialError('both X-API-Key and Authorization are present');
      return token;
    },
    authenticate: (token) => authenticator.authenticate(token),
  };
}
