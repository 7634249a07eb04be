import type { AuditRecord } from '../audit/audit-event.js';
import type { UserKind, UserRecord } from './user-store.js';

export interface UserListQuery {
  /** Matches the start of the (normalised) username or of the email, case-insensitively. */
  readonly search?: string;
  readonly limit: number;
  /** Keyset cursor: the username key of the last user of the previous page. */
  readonly after?: string;
  /** Only people, or only service accounts; default both. */
  readonly kind?: UserKind;
}

export type RoleChange = { readonly grant: string } | { readonly revoke: string };

/**
 * Administration of accounts (the admin API and the CLI). Kept apart from UserStore, which the
 * request path uses: nothing here is called by a login or a token check. Every write takes the
 * audit rows that record it and writes them in its transaction, only if the user exists.
 */
export interface UserDirectory {
  /** Ordered by username key. */
  list(query: UserListQuery): Promise<(UserRecord & { readonly usernameKey: string })[]>;
  /** Sets or clears the disabled / locked marks. undefined: no such user. */
  setStatus(
    id: string,
    status: { readonly disabledAt?: Date | null; readonly lockedAt?: Date | null },
    audit?: readonly AuditRecord[],
  ): Promise<UserRecord | undefined>;
  /** Grants or revokes one global role atomically (no lost update between two admins). undefined: no such user. */
  changeRole(id: string, change: RoleChange, audit?: readonly AuditRecord[]): Promise<UserRecord | undefined>;
  /** Deletes the user and, by cascade, its sessions; the audit trail keeps its rows. */
  delete(id: string, audit?: readonly AuditRecord[]): Promise<boolean>;
}
