import { ADMIN_ROLE, IMPLICIT_ROLE } from '../oauth/scope-catalogue.js';

/** An organisation whose members, roles and resources are kept apart from every other tenant's. */
export interface TenantRecord {
  readonly id: string;
  /** Lower case, unique; what a login names in its `tenant` parameter. */
  readonly slug: string;
  readonly name: string;
  readonly createdAt: Date;
}

/** A user's place in one tenant and the roles held there (and only there). */
export interface MembershipRecord {
  readonly tenantId: string;
  readonly userId: string;
  readonly roles: readonly string[];
  readonly createdAt: Date;
}

export const TENANT_SLUG = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
export const TENANT_ROLE = /^[a-z][a-z0-9_.:-]{0,63}$/;

/**
 * Global roles cannot be held in a tenant: a tenant "admin" must never read as the Gatehouse
 * administrator in a token's `roles`, nor grant the admin scopes.
 */
export const RESERVED_ROLES: readonly string[] = Object.freeze([ADMIN_ROLE, IMPLICIT_ROLE]);

export function isTenantRole(role: string): boolean {
  return TENANT_ROLE.test(role) && !RESERVED_ROLES.includes(role);
}

/** A slug as typed (`Acme`) to the form stored; undefined when it cannot be one. */
export function normaliseTenantSlug(input: string): string | undefined {
  const slug = input.trim().toLowerCase();
  return TENANT_SLUG.test(slug) ? slug : undefined;
}
