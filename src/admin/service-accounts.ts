import { randomUUID } from 'node:crypto';
import type { ApiKeys, ApiKeyView, CreateApiKeyInput, CreatedApiKey } from '../apikeys/api-keys.js';
import { auditRecord } from '../audit/audit-event.js';
import { NotFoundError, ValidationError } from '../errors/errors.js';
import type { GatehouseServices } from '../services.js';
import type { ScopeCatalogue } from '../oauth/scope-catalogue.js';
import type { TenantMembership, TenantStore } from '../tenants/tenant-store.js';
import type { UserRecord } from '../users/user-store.js';
import { normalizeUsername } from '../users/username.js';
import { changeUserStatus, deleteUser, type AdminActor, type UserAdminDeps } from './user-admin.js';

/**
 * Service accounts: principals with no password that cannot sign in and own API keys. Each is a
 * `users` row of kind `service`, so every check made of a key's owner (disabled, locked, deleted,
 * token version, roles, tenant membership) applies to it unchanged, and disabling it reaches every
 * instance through the same revocation feed as a person's. Its name shares the username namespace:
 * nobody can register a person named like a bot (or the other way round), look-alikes included.
 */
export interface ServiceAccountDeps extends UserAdminDeps {
  readonly scopes: Pick<ScopeCatalogue, 'grantableRoles' | 'tenantRoles'>;
  readonly tenants: Pick<TenantStore, 'membershipsOfUser'>;
  readonly apiKeys: Pick<ApiKeys, 'create' | 'list' | 'revoke'>;
}

/** The use cases' dependencies, out of the services (the admin API and the CLI alike). */
export const serviceAccountDeps = (services: GatehouseServices): ServiceAccountDeps => ({
  directory: services.userDirectory,
  users: services.users,
  revocations: services.revocations,
  scopes: services.scopes,
  tenants: services.tenants,
  apiKeys: services.apiKeys,
  now: services.now,
});

export interface NewServiceAccount {
  readonly name: string;
  /** Without a tenant: global roles. With one: the roles it holds in that tenant, and no global role. */
  readonly roles: readonly string[];
  readonly tenantId?: string | undefined;
}

export interface ServiceAccount {
  readonly account: UserRecord;
  readonly tenants: readonly TenantMembership[];
}

function checkRoles(roles: readonly string[], allowed: readonly string[], where: string): void {
  const foreign = roles.find((r) => !allowed.includes(r));
  if (foreign !== undefined) throw new ValidationError([{ field: 'roles', message: `${where} roles are: ${allowed.join(', ') || '(none)'}` }]);
}

/** The account, if `id` is a service account: a person is "not found" here, never changed. */
async function requireServiceAccount(deps: ServiceAccountDeps, id: string): Promise<UserRecord> {
  const account = await deps.users.findById(id);
  if (account?.kind !== 'service') throw new NotFoundError('no such service account');
  return account;
}

const withTenants = async (deps: ServiceAccountDeps, account: UserRecord): Promise<ServiceAccount> => ({
  account,
  tenants: await deps.tenants.membershipsOfUser(account.id),
});

export async function createServiceAccount(deps: ServiceAccountDeps, actor: AdminActor, input: NewServiceAccount): Promise<ServiceAccount> {
  const name = normalizeUsername(input.name);
  const roles = [...new Set(input.roles)].sort();
  const tenantId = input.tenantId;
  checkRoles(roles, tenantId === undefined ? deps.scopes.grantableRoles : deps.scopes.tenantRoles, tenantId === undefined ? 'global' : 'tenant');
  const id = randomUUID();
  const record = auditRecord(
    actor.context,
    { event: 'service_account.created', outcome: 'success', actorId: actor.userId, subjectId: id },
    new Date(deps.now()),
  );
  const account = await deps.revocations.atomically(async ({ stores }) => {
    const created = await stores.users.create(
      { id, kind: 'service', username: name.display, usernameKey: name.key, email: null, passwordHash: null, roles: tenantId === undefined ? roles : [] },
      [record],
    );
    if (tenantId === undefined) return created;
    if ((await stores.tenants.addMember(tenantId, id)) === undefined) throw new ValidationError([{ field: 'tenant', message: 'no such tenant' }]);
    for (const role of roles) await stores.tenants.changeMemberRole(tenantId, id, { grant: role });
    return created;
  });
  return withTenants(deps, account);
}

/** One page, ordered by name; `nextAfter` is the cursor of the next page (null on the last). */
export async function listServiceAccounts(
  deps: ServiceAccountDeps,
  query: { readonly limit: number; readonly after?: string },
): Promise<{ accounts: ServiceAccount[]; nextAfter: string | null }> {
  const rows = await deps.directory.list({ ...query, kind: 'service' });
  const accounts = await Promise.all(rows.map((a) => withTenants(deps, a)));
  return { accounts, nextAfter: rows.length === query.limit ? (rows.at(-1)?.usernameKey ?? null) : null };
}

/** Disabled: every key of the account is refused at once, on every instance (the owner check and the user feed). */
export async function disableServiceAccount(deps: ServiceAccountDeps, actor: AdminActor, id: string): Promise<ServiceAccount> {
  await requireServiceAccount(deps, id);
  return withTenants(deps, await changeUserStatus(deps, actor, id, 'disable', 'service_account.disabled'));
}

/** Deleted with its keys (cascade); a key cached on another instance finds no owner and is refused. */
export async function deleteServiceAccount(deps: ServiceAccountDeps, actor: AdminActor, id: string): Promise<void> {
  await requireServiceAccount(deps, id);
  await deleteUser(deps, actor, id, 'service_account.deleted');
}

/** A key of the account: its scopes a subset of what the account holds (checked again at every use). */
export async function createServiceAccountKey(deps: ServiceAccountDeps, actor: AdminActor, id: string, input: CreateApiKeyInput): Promise<CreatedApiKey> {
  await requireServiceAccount(deps, id);
  return deps.apiKeys.create(id, input, actor.context, actor.userId);
}

export async function listServiceAccountKeys(deps: ServiceAccountDeps, id: string): Promise<ApiKeyView[]> {
  await requireServiceAccount(deps, id);
  return deps.apiKeys.list(id);
}

export async function revokeServiceAccountKey(deps: ServiceAccountDeps, actor: AdminActor, id: string, keyId: string): Promise<void> {
  await requireServiceAccount(deps, id);
  await deps.apiKeys.revoke(id, keyId, actor.context, actor.userId);
}
