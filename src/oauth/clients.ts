/** The OAuth client that a request without `client_id` is (Swagger UI, the seed clients, curl). */
export const DEFAULT_CLIENT_ID = 'gatehouse-cli';

export type GrantType = 'password' | 'refresh_token' | 'client_credentials';

export interface OAuthClient {
  readonly id: string;
  /**
   * RFC 9700 §2.4: the password grant must not be offered to third parties, because it hands
   * them the user's password. Only first-party clients may use it.
   */
  readonly firstParty: boolean;
  readonly grantTypes: readonly GrantType[];
  /**
   * Cookie mode, for a browser app on Gatehouse's site: the refresh token is set as an HttpOnly
   * cookie (`__Secure-gatehouse_refresh`, `SameSite=Strict`, `Path=/auth/refresh`) instead of
   * returned in the body, so no script of the page can read it; `/auth/refresh` takes it from the
   * cookie behind the CSRF layers. Off when absent.
   */
  readonly refreshTokenCookie?: boolean;
}

export interface ClientRegistry {
  find(clientId: string): OAuthClient | undefined;
}

/**
 * The client of browser cookie sessions (`POST /auth/session`, the hosted pages): first party and
 * with no grant types, so the token endpoint refuses it every grant; its sessions never have tokens.
 */
export const BROWSER_CLIENT_ID = 'gatehouse-web';

export const BUILT_IN_CLIENTS: readonly OAuthClient[] = [
  { id: DEFAULT_CLIENT_ID, firstParty: true, grantTypes: ['password', 'refresh_token'] },
  { id: BROWSER_CLIENT_ID, firstParty: true, grantTypes: [] },
];

export function createClientRegistry(clients: readonly OAuthClient[] = BUILT_IN_CLIENTS): ClientRegistry {
  const byId = new Map(clients.map((c) => [c.id, Object.freeze({ ...c })]));
  if (byId.size !== clients.length) throw new TypeError('duplicate client id');
  return { find: (id) => byId.get(id) };
}
