import type { UserRecord } from '../users/user-store.js';

/** Who is calling, restored from a verified access token and the current user record. */
export interface Principal {
  readonly kind: 'user';
  readonly userId: string;
  readonly username: string;
  readonly roles: readonly string[];
  readonly scopes: ReadonlySet<string>;
  readonly clientId: string;
  readonly sessionId: string | undefined;
  readonly tokenId: string;
  /** Seconds since the epoch. */
  readonly expiresAt: number;
  readonly user: UserRecord;
}
