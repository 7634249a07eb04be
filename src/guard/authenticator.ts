import { InvalidTokenError } from '../errors/errors.js';
import { scopesOf } from '../tokens/access-token-claims.js';
import type { AccessTokenVerifier } from '../tokens/access-token-verifier.js';
import type { UserStore } from '../users/user-store.js';
import type { Principal } from './principal.js';

export interface Authenticator {
  /** Steps 2–3 of the guard: verify the token and restore the principal. Throws InvalidTokenError. */
  authenticate(token: string): Promise<Principal>;
}

export function createAuthenticator(deps: { verifier: AccessTokenVerifier; users: Pick<UserStore, 'findById'> }): Authenticator {
  return {
    async authenticate(token) {
      const claims = await deps.verifier.verify(token);
      // A valid signature is not enough: the account must still exist and be enabled.
      const user = await deps.users.findById(claims.sub);
      if (user === undefined) throw new InvalidTokenError('subject no longer exists');
      if (user.disabledAt !== null) throw new InvalidTokenError('subject is disabled');
      return Object.freeze({
        kind: 'user',
        userId: user.id,
        username: user.username,
        roles: user.roles,
        scopes: scopesOf(claims),
        clientId: claims.client_id,
        sessionId: claims.sid,
        tokenId: claims.jti,
        expiresAt: claims.exp,
        user,
      });
    },
  };
}
