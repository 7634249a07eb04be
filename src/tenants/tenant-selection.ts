import { LoginRefusedError } from '../errors/errors.js';
import type { TenantMembership } from './tenant-store.js';

/**
 * Which tenant a login acts in: the one it names (by slug or id), else the user's only tenant,
 * else none (a user of several tenants who names none gets a token bound to no tenant, which
 * tenant-bound routes refuse). Naming a tenant the user does not belong to is refused exactly like
 * a wrong password, so a login cannot probe which tenants exist or who belongs to them.
 */
export function selectTenant(memberships: readonly TenantMembership[], requested: string | undefined, subjectId: string): TenantMembership | undefined {
  if (requested === undefined) return memberships.length === 1 ? memberships[0] : undefined;
  const wanted = requested.trim().toLowerCase();
  const found = memberships.find((m) => m.tenant.slug === wanted || m.tenant.id === wanted);
  if (found === undefined) throw new LoginRefusedError('not_a_member', subjectId);
  return found;
}

/**
 * The user's memberships for a sign-in's tenant choice: none to read when the record the sign-in
 * looked up already says the user is in no tenant (`hasMemberships`, drizzle-user-store.ts).
 */
export async function membershipsAtSignIn(
  user: { readonly id: string; readonly hasMemberships?: boolean },
  membershipsOf: (userId: string) => Promise<readonly TenantMembership[]>,
): Promise<readonly TenantMembership[]> {
  return user.hasMemberships === false ? [] : membershipsOf(user.id);
}
