import { InvalidClientError, InvalidRequestError } from '../errors/errors.js';
import { DEFAULT_CLIENT_ID, type ClientRegistry, type OAuthClient } from './clients.js';
import { single, type FormParameters } from './form-parameters.js';

export interface BasicClientCredentials {
  readonly clientId: string;
  readonly clientSecret: string;
}

/**
 * Gatehouse's clients are public (token_endpoint_auth_method "none"): a client is identified,
 * not authenticated. A secret presented anyway cannot be checked, so it is refused rather than ignored.
 */
export function identifyClient(clients: ClientRegistry, params: FormParameters, presented: BasicClientCredentials | undefined): OAuthClient {
  // Swagger UI sends `Basic base64(":")` when client_id is left empty: that identifies no one.
  const basic = presented !== undefined && presented.clientId === '' && presented.clientSecret === '' ? undefined : presented;
  const fromBody = single(params, 'client_id');
  if (basic !== undefined && fromBody !== undefined && fromBody !== basic.clientId) {
    throw new InvalidRequestError('client identified twice', 'client_id in body and Basic header differ');
  }
  if ((basic !== undefined && basic.clientSecret !== '') || single(params, 'client_secret') !== undefined) {
    throw new InvalidClientError('client secret presented for a public client');
  }
  const clientId = basic?.clientId ?? (fromBody === undefined || fromBody === '' ? DEFAULT_CLIENT_ID : fromBody);
  const client = clients.find(clientId);
  if (client === undefined) throw new InvalidClientError('unknown client_id');
  return client;
}
