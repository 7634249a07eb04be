import { ForbiddenError, InvalidTokenError } from '../errors/errors.js';
import type { ScopeCatalogue } from '../oauth/scope-catalogue.js';
import type { TenantStore } from '../tenants/tenant-store.js';
import type { UserStore } from '../users/user-store.js';
import { principalUserOf, type Principal } from './principal.js';

export interface FreshPrincipalDeps {
  /** Must read the database itself, past any cache. */
  readonly users: Pick<UserStore, 'findById'>;
  readonly tenants: Pick<TenantStore, 'membership'>;
  readonly scopes: ScopeCatalogue;
}

/**
 * The principal as the database holds it now (`fresh: true` routes): the account must still be
 * usable, the membership of the token's tenant must still exist, and roles and scopes shrink to
 * what the user holds at this moment. A token never grants more than the user holds.
 */
export async function refreshPrincipal(principal: Principal, deps: FreshPrincipalDeps): Promise<Principal> {
  const user = await deps.users.findById(principal.subject);
  if (user === undefined) throw new InvalidTokenError('fresh check: subject no longer exists');
  if (user.disabledAt !== null || user.lockedAt !== null) throw new InvalidTokenError('fresh check: subject disabled or locked');
  if (principal.tokenVersion < user.tokenVersion) throw new InvalidTokenError('fresh check: token version revoked');
  let tenantRoles: readonly string[] = [];
  if (principal.tenantId !== undefined) {
    const membership = await deps.tenants.membership(principal.tenantId, principal.subject);
    if (membership === undefined) throw new ForbiddenError('fresh check: no longer a member of the token tenant');
    tenantRoles = membership.roles;
  }
  const held = deps.scopes.scopesForRoles(user.roles, tenantRoles);
  return Object.freeze({
    ...principal,
    user: principalUserOf(user),
    roles: Object.freeze([...new Set([...user.roles, ...tenantRoles])]),
    scopes: new Set([...principal.scopes].filter((s) => held.has(s))),
  });
}
