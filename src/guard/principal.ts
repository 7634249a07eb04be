import type { Principal as TokenPrincipal } from '@gatehouse/verify';
import type { UserRecord } from '../users/user-store.js';

/**
 * The account behind a principal, as a host may see it: no password hash, nor any other secret
 * (TOTP seeds, refresh digests…). A host route that sends the principal whole leaks nothing.
 */
export interface PrincipalUser {
  readonly id: string;
  readonly username: string;
  readonly email: string | null;
  /** Global roles, as the record holds them when the principal was built. */
  readonly roles: readonly string[];
  readonly createdAt: Date;
}

/**
 * Who is calling on a Gatehouse-guarded route: the SDK's token principal (one definition for the
 * server and every resource server) plus what only the server knows, the account behind it.
 */
export interface Principal extends TokenPrincipal {
  /**
   * Global roles plus those held in the active tenant, as the token states them. A role revoked
   * since takes effect through the token version; a route with `fresh: true` re-reads them.
   */
  readonly roles: readonly string[];
  /** The token version (`tver`) the token was issued at. */
  readonly tokenVersion: number;
  readonly user: PrincipalUser;
}

/**
 * The fields are listed, never spread from the record: a field added to `UserRecord` later (a
 * secret, say) stays out of every principal until someone decides it belongs here.
 */
export function principalUserOf(user: UserRecord): PrincipalUser {
  return Object.freeze({ id: user.id, username: user.username, email: user.email, roles: Object.freeze([...user.roles]), createdAt: user.createdAt });
}
