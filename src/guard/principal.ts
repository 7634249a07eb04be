import type { UserRecord } from '../users/user-store.js';

/** Who is calling, restored from a verified access token and the current user record. */
export interface Principal {
  readonly kind: 'user';
  readonly userId: string;
  readonly username: string;
  /**
   * Global roles plus those held in the active tenant, as the token states them. A role revoked
   * since takes effect through the token version; a route with `fresh: true` re-reads them.
   */
  readonly roles: readonly string[];
  readonly scopes: ReadonlySet<string>;
  /** The tenant the token acts in (`tid`); undefined for a token bound to no tenant. */
  readonly tenantId: string | undefined;
  readonly clientId: string;
  readonly sessionId: string | undefined;
  readonly tokenId: string;
  /** The token version (`tver`) the token was issued at. */
  readonly tokenVersion: number;
  /** Seconds since the epoch. */
  readonly expiresAt: number;
  readonly user: UserRecord;
}
