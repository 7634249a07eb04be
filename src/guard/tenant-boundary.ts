import { definePolicy } from './policy.js';

/** A resource that belongs to one tenant. */
export interface TenantOwned {
  readonly tenantId: string;
}

/**
 * The tenant boundary: a resource is reachable only with a token acting in its tenant. A token
 * bound to no tenant reaches no tenant's resources, whatever its roles.
 */
export const sameTenant = definePolicy<TenantOwned>(
  'same-tenant',
  (principal, resource) => principal.tenantId !== undefined && principal.tenantId === resource.tenantId,
);
