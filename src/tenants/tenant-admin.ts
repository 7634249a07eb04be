import { randomUUID } from 'node:crypto';
import type { AdminActor } from '../admin/user-admin.js';
import { auditRecord, type AuditEventType } from '../audit/audit-event.js';
import { NotFoundError, ValidationError } from '../errors/errors.js';
import { isUuid } from '../ids/uuid.js';
import type { ScopeCatalogue } from '../oauth/scope-catalogue.js';
import type { Revocations } from '../revocation/revocations.js';
import { isTenantRole, normaliseTenantSlug, RESERVED_ROLES, type MembershipRecord, type TenantRecord } from './tenant.js';
import type { TenantStore } from './tenant-store.js';

export interface TenantAdminDeps {
  readonly tenants: TenantStore;
  /** Global role names (`grantableRoles`): never grantable in a tenant, see changeMemberRole. */
  readonly scopes: Pick<ScopeCatalogue, 'grantableRoles'>;
  readonly revocations: Pick<Revocations, 'atomically'>;
  readonly now: () => number;
}

const MAX_NAME = 200;

export async function createTenant(
  deps: TenantAdminDeps,
  actor: AdminActor,
  input: { readonly slug: string; readonly name?: string | undefined },
): Promise<TenantRecord> {
  const slug = normaliseTenantSlug(input.slug);
  if (slug === undefined) throw new ValidationError([{ field: 'slug', message: '1–63 lower-case letters, digits and inner hyphens' }]);
  const name = (input.name ?? slug).trim();
  if (name.length === 0 || name.length > MAX_NAME || /\p{Cc}/u.test(name))
    throw new ValidationError([{ field: 'name', message: `1–${MAX_NAME} characters, no control characters` }]);
  const record = audit(deps, actor, 'tenant.created', null, `tenant:${slug}`);
  return deps.tenants.create({ id: randomUUID(), slug, name }, [record]);
}

/** A tenant by id or by slug (any case). */
export async function findTenant(deps: Pick<TenantAdminDeps, 'tenants'>, ref: string): Promise<TenantRecord> {
  const slug = normaliseTenantSlug(ref);
  const tenant = isUuid(ref) ? await deps.tenants.findById(ref) : slug === undefined ? undefined : await deps.tenants.findBySlug(slug);
  if (tenant === undefined) throw new NotFoundError('no such tenant');
  return tenant;
}

export async function addMember(deps: TenantAdminDeps, actor: AdminActor, tenantRef: string, userId: string): Promise<MembershipRecord> {
  const tenant = await findTenant(deps, tenantRef);
  const record = audit(deps, actor, 'membership.added', userId, `tenant:${tenant.slug}`);
  const membership = await deps.tenants.addMember(tenant.id, userId, [record]);
  if (membership === undefined) throw new NotFoundError('no such user');
  return membership;
}

/**
 * Leaving a tenant ends what the user could do there at once: the token version moves on (every
 * access token dies, in every tenant: tokens do not record which were minted for which), and the
 * sessions bound to the tenant can no longer refresh. One transaction, the user row first (the
 * lock order of docs/architecture.md).
 */
export async function removeMember(deps: TenantAdminDeps, actor: AdminActor, tenantRef: string, userId: string): Promise<void> {
  const tenant = await findTenant(deps, tenantRef);
  const now = new Date(deps.now());
  const record = audit(deps, actor, 'membership.removed', userId, `tenant:${tenant.slug}`);
  await deps.revocations.atomically(async (unit) => {
    // An unknown user bumps nothing; the removal below then finds no member either.
    await unit.revokeUserTokens(userId, now);
    if (!(await unit.stores.tenants.removeMember(tenant.id, userId, [record]))) throw new NotFoundError('not a member');
  });
}

/**
 * Grants or revokes a role held in one tenant. Revoking moves the token version on, like a global
 * role. A token lists global and tenant roles together, so a global role's name (`admin`, or any a
 * scope grants globally) is refused here: held in one tenant it would read as held everywhere.
 */
export async function changeMemberRole(
  deps: TenantAdminDeps,
  actor: AdminActor,
  tenantRef: string,
  userId: string,
  role: string,
  grant: boolean,
): Promise<MembershipRecord> {
  if (!isTenantRole(role) || deps.scopes.grantableRoles.includes(role)) {
    const global = RESERVED_ROLES.includes(role) || deps.scopes.grantableRoles.includes(role);
    const why = global ? `${role} is a global role, not a tenant role` : 'a lower-case name of up to 64 letters, digits and _ . : -';
    throw new ValidationError([{ field: 'role', message: why }]);
  }
  const tenant = await findTenant(deps, tenantRef);
  const now = new Date(deps.now());
  const record = audit(deps, actor, grant ? 'tenant_role.granted' : 'tenant_role.revoked', userId, `${tenant.slug}:${role}`);
  return deps.revocations.atomically(async (unit) => {
    if (!grant) await unit.revokeUserTokens(userId, now);
    const membership = await unit.stores.tenants.changeMemberRole(tenant.id, userId, grant ? { grant: role } : { revoke: role }, [record]);
    if (membership === undefined) throw new NotFoundError('not a member');
    return membership;
  });
}

function audit(deps: Pick<TenantAdminDeps, 'now'>, actor: AdminActor, event: AuditEventType, subjectId: string | null, reason: string) {
  return auditRecord(actor.context, { event, outcome: 'success', reason, actorId: actor.userId, subjectId }, new Date(deps.now()));
}
