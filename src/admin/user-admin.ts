import { auditRecord, type AuditContext, type AuditEventType } from '../audit/audit-event.js';
import { NotFoundError, ValidationError } from '../errors/errors.js';
import type { ScopeCatalogue } from '../oauth/scope-catalogue.js';
import type { Revocations } from '../revocation/revocations.js';
import type { UserDirectory, UserListQuery } from '../users/user-directory.js';
import type { UserRecord, UserStore } from '../users/user-store.js';

export interface UserAdminDeps {
  readonly directory: UserDirectory;
  readonly users: Pick<UserStore, 'findById'>;
  readonly revocations: Pick<Revocations, 'atomically' | 'revokeEverythingOfUser'>;
  readonly scopes: Pick<ScopeCatalogue, 'grantableRoles'>;
  readonly now: () => number;
}

/** Who performs an admin action, and from where: both go into the audit row. */
export interface AdminActor {
  /** null: the operator at the command line, not a user of the service. */
  readonly userId: string | null;
  readonly context: AuditContext;
}

export type StatusChange = 'disable' | 'enable' | 'lock' | 'unlock';

const STATUS: Record<StatusChange, { event: AuditEventType; field: 'disabledAt' | 'lockedAt'; set: boolean; reason: string }> = {
  disable: { event: 'user.disabled', field: 'disabledAt', set: true, reason: 'disabled' },
  enable: { event: 'user.enabled', field: 'disabledAt', set: false, reason: 'enabled' },
  lock: { event: 'user.locked', field: 'lockedAt', set: true, reason: 'locked' },
  unlock: { event: 'user.unlocked', field: 'lockedAt', set: false, reason: 'unlocked' },
};

export async function listUsers(deps: UserAdminDeps, query: UserListQuery): Promise<(UserRecord & { usernameKey: string })[]> {
  return deps.directory.list(query);
}

export async function readUser(deps: UserAdminDeps, id: string): Promise<UserRecord> {
  const user = await deps.users.findById(id);
  if (user === undefined) throw new NotFoundError('no such user');
  return user;
}

/**
 * Disable / lock: the account can no longer log in or refresh, every session ends and every
 * access token it holds dies on every instance (token version), all in one transaction. Enable /
 * unlock only lift the mark: nothing revoked comes back; the user logs in again.
 */
export async function changeUserStatus(
  deps: UserAdminDeps,
  actor: AdminActor,
  id: string,
  change: StatusChange,
  event: AuditEventType = STATUS[change].event,
): Promise<UserRecord> {
  const { field, set, reason } = STATUS[change];
  const now = new Date(deps.now());
  const record = auditRecord(actor.context, { event, outcome: 'success', reason, actorId: actor.userId, subjectId: id }, now);
  return deps.revocations.atomically(async (unit) => {
    const user = await unit.stores.directory.setStatus(id, { [field]: set ? now : null }, [record]);
    if (user === undefined) throw new NotFoundError('no such user');
    if (set) await unit.revokeEverythingOfUser(id, reason, now);
    return user;
  });
}

/** Log the user out everywhere, as an admin (a suspected compromise, a lost device). */
export async function forceLogout(deps: UserAdminDeps, actor: AdminActor, id: string): Promise<void> {
  const now = new Date(deps.now());
  const record = auditRecord(actor.context, { event: 'user.logged_out_by_admin', outcome: 'success', actorId: actor.userId, subjectId: id }, now);
  if ((await deps.revocations.revokeEverythingOfUser(id, 'admin_logout', now, [record])) === undefined) throw new NotFoundError('no such user');
}

/**
 * Grants or revokes a global role. Revoking also moves the token version on, so a token minted
 * while the user held the role stops working at once instead of at its `exp`: a token never
 * grants more than the user holds.
 */
export async function changeUserRole(deps: UserAdminDeps, actor: AdminActor, id: string, role: string, grant: boolean): Promise<UserRecord> {
  if (!deps.scopes.grantableRoles.includes(role)) {
    throw new ValidationError([{ field: 'role', message: `must be one of: ${deps.scopes.grantableRoles.join(', ')}` }]);
  }
  const now = new Date(deps.now());
  const record = auditRecord(
    actor.context,
    { event: grant ? 'role.granted' : 'role.revoked', outcome: 'success', reason: role, actorId: actor.userId, subjectId: id },
    now,
  );
  return deps.revocations.atomically(async (unit) => {
    const user = await unit.stores.directory.changeRole(id, grant ? { grant: role } : { revoke: role }, [record]);
    if (user === undefined) throw new NotFoundError('no such user');
    if (!grant) await unit.revokeUserTokens(id, now);
    return user;
  });
}

/**
 * Deletes the account, in one transaction: its tokens die (token version, announced to every
 * instance), its sessions end, then the row goes (its sessions with it).
 */
export async function deleteUser(deps: UserAdminDeps, actor: AdminActor, id: string, event: AuditEventType = 'user.deleted'): Promise<void> {
  const now = new Date(deps.now());
  const record = auditRecord(actor.context, { event, outcome: 'success', actorId: actor.userId, subjectId: id }, now);
  await deps.revocations.atomically(async (unit) => {
    if ((await unit.revokeEverythingOfUser(id, 'user_deleted', now)) === undefined) throw new NotFoundError('no such user');
    if (!(await unit.stores.directory.delete(id, [record]))) throw new NotFoundError('no such user');
  });
}
