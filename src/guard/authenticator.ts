import { InvalidTokenError } from '../errors/errors.js';
import { toPrincipal } from '@gatehouse/verify/internal';
import type { Revocations } from '../revocation/revocations.js';
import type { AccessTokenVerifier } from '../tokens/access-token-verifier.js';
import type { UserStore } from '../users/user-store.js';
import { principalUserOf, type BearerPrincipal } from './principal.js';

export interface Authenticator {
  /** Steps 2–3 of the guard: verify the token and restore the principal. Throws InvalidTokenError. */
  authenticate(token: string): Promise<BearerPrincipal>;
}

export interface AuthenticatorDeps {
  readonly verifier: AccessTokenVerifier;
  readonly revocations: Pick<Revocations, 'assertNotRevoked'>;
  readonly users: Pick<UserStore, 'findById'>;
}

export function createAuthenticator(deps: AuthenticatorDeps): Authenticator {
  return {
    async authenticate(token) {
      const claims = await deps.verifier.verify(token);
      // A valid signature is not enough: the token must not be revoked (in-process check, no
      // round trip), and the account must still exist, be enabled and not have moved its token
      // version past this token (the user cache catches a bump the revocation list has aged out of).
      deps.revocations.assertNotRevoked(claims);
      const user = await deps.users.findById(claims.sub);
      if (user === undefined) throw new InvalidTokenError('subject no longer exists');
      if (user.disabledAt !== null) throw new InvalidTokenError('subject is disabled');
      if (user.lockedAt !== null) throw new InvalidTokenError('subject is locked');
      if ((claims.tver ?? 0) < user.tokenVersion) throw new InvalidTokenError('token version revoked');
      return Object.freeze({
        ...toPrincipal(claims),
        // Tokens from before tenants carry no `roles`: their user's global roles stand in.
        roles: claims.roles ?? user.roles,
        tokenVersion: claims.tver ?? 0,
        user: principalUserOf(user),
      });
    },
  };
}
