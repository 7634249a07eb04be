import { auditRecord, NO_AUDIT_CONTEXT } from '../audit/audit-event.js';
import type { Authenticator } from '../guard/authenticator.js';
import { principalUserOf, type Principal, type PrincipalUser } from '../guard/principal.js';
import type { GatehouseServices } from '../services.js';

/**
 * What a host app reaches through `app.gatehouse`: the few operations a host's own code needs
 * beside the guard, none of which hands out a store, a key or a credential. Everything else stays
 * behind Gatehouse's endpoints, so their checks, audit and throttles cannot be stepped around.
 */
export interface GatehouseApi {
  /**
   * Verifies a bearer access token as the host's guarded routes do (the host's audience, the
   * revocation list, the account's state) and restores its principal: for a credential that does
   * not arrive through a guarded route, such as a WebSocket upgrade. Rejects with InvalidTokenError.
   *
   * @example
   * const principal = await app.gatehouse.authenticate(token);
   */
  authenticate(token: string): Promise<Principal>;
  /**
   * Ends a session on every instance: its refresh tokens are spent and its access tokens refused.
   * Resolves `false` when there is no such live session. Audited as `session.revoked`.
   */
  revokeSession(sessionId: string): Promise<boolean>;
  /** The account, without any credential, or `undefined` for an unknown id. */
  findUser(id: string): Promise<PrincipalUser | undefined>;
}

export function createGatehouseApi(services: GatehouseServices, authenticator: Authenticator): GatehouseApi {
  return Object.freeze({
    authenticate: (token: string) => authenticator.authenticate(token),
    async revokeSession(sessionId: string) {
      const now = new Date(services.now());
      const record = auditRecord(NO_AUDIT_CONTEXT, { event: 'session.revoked', outcome: 'success', reason: 'host_revoked', sessionId }, now);
      return services.revocations.revokeSession(sessionId, 'host_revoked', now, [record]);
    },
    async findUser(id: string) {
      const user = await services.users.findById(id);
      return user === undefined ? undefined : principalUserOf(user);
    },
  });
}
