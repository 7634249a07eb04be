import { InvalidClientError, InvalidRequestError } from '../errors/errors.js';
import { DEFAULT_CLIENT_ID, type ClientRegistry, type OAuthClient } from './clients.js';
import { single, type FormParameters } from './form-parameters.js';

export interface BasicClientCredentials {
  readonly clientId: string;
  readonly clientSecret: string;
}

/** A confidential client's claim to be itself (RFC 6749 §2.3.1): its id, its secret, and how they came. */
export interface PresentedClientSecret {
  readonly clientId: string;
  readonly clientSecret: string;
  readonly method: 'client_secret_basic' | 'client_secret_post';
}

/**
 * The credentials of a confidential client, from the Basic header or from the body, never both:
 * RFC 6749 §2.3 forbids more than one method in a request (which one would count is what must not
 * be guessed). None at all is a failed client authentication (invalid_client, 401).
 */
export function presentedClientSecret(params: FormParameters, presented: BasicClientCredentials | undefined): PresentedClientSecret {
  const basic = presented !== undefined && presented.clientId === '' && presented.clientSecret === '' ? undefined : presented;
  const bodyId = single(params, 'client_id');
  const bodySecret = single(params, 'client_secret');
  if (basic !== undefined) {
    if (bodySecret !== undefined) throw new InvalidRequestError('more than one client authentication method', 'client_secret in the body and a Basic header');
    if (bodyId !== undefined && bodyId !== basic.clientId)
      throw new InvalidRequestError('client identified twice', 'client_id in body and Basic header differ');
    return { clientId: basic.clientId, clientSecret: basic.clientSecret, method: 'client_secret_basic' };
  }
  if (bodySecret === undefined || bodyId === undefined) throw new InvalidClientError('no client authentication');
  return { clientId: bodyId, clientSecret: bodySecret, method: 'client_secret_post' };
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
