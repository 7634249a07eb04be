import type { EmailCodeStore } from '../recovery/email-code-store.js';
import type { RevocationStore } from '../revocation/revocation-store.js';
import type { SessionStore } from '../sessions/session-store.js';
import type { TenantStore } from '../tenants/tenant-store.js';
import type { UserDirectory } from '../users/user-directory.js';
import type { UserStore } from '../users/user-store.js';

/** The stores of one transaction: what is written through them commits together or not at all. */
export interface UnitStores {
  readonly users: UserStore;
  readonly sessions: SessionStore;
  /** The deny-list of access tokens. */
  readonly denyList: Pick<RevocationStore, 'denyAccessToken'>;
  readonly directory: UserDirectory;
  readonly tenants: TenantStore;
  /** Mailed codes: consumed in the transaction of what they allow (a reset, a confirmation). */
  readonly emailCodes: EmailCodeStore;
}

/**
 * Runs `work` in one transaction over stores bound to it: commits when `work` resolves, rolls back
 * when it throws (a typed error is rethrown as is; a failed BEGIN, COMMIT or ROLLBACK is a
 * StoreUnavailableError). `work` must use only the stores it is given: anything else runs outside
 * the transaction (and, on PGlite, would wait for it to end).
 *
 * @example
 * await unitOfWork(async ({ users, sessions }) => {
 *   if (!(await users.replacePasswordHash(id, oldHash, newHash))) throw new PasswordChangedConcurrentlyError();
 *   await sessions.revokeAllOfUser(id, 'password_changed', now);
 * });
 */
export type UnitOfWork = <T>(work: (stores: UnitStores) => Promise<T>) => Promise<T>;
