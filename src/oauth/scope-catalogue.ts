/**
 * Which scopes exist and which roles grant them. Every user implicitly holds the `user` role.
 * Global roles (`admin`) are held by the user; tenant roles are held in one tenant and count only
 * in tokens bound to it. A library host adds its own scopes (see `gatehouse({ scopes })`).
 */
export interface ScopeCatalogue {
  /** Advertised as `scopes_supported` (RFC 8414) and offered by Swagger's Authorize. */
  readonly supported: readonly string[];
  readonly descriptions: Readonly<Record<string, string>>;
  /** Every role some scope names, except the implicit one: what an admin may grant. */
  readonly grantableRoles: readonly string[];
  /** Every tenant role some scope names: what may be granted within a tenant. */
  readonly tenantRoles: readonly string[];
  /**
   * The scopes held through global `roles` and the active tenant's `tenantRoles`. A tenant role
   * grants only the scopes whose definition lists it under `tenantRoles`, never a global one.
   */
  scopesForRoles(roles: readonly string[], tenantRoles?: readonly string[]): ReadonlySet<string>;
}

export interface ScopeDefinition {
  readonly description: string;
  /** Global roles that grant this scope. */
  readonly roles?: readonly string[];
  /** Roles held in the token's active tenant that grant this scope (for tenant-bound tokens only). */
  readonly tenantRoles?: readonly string[];
}

export const IMPLICIT_ROLE = 'user';
export const ADMIN_ROLE = 'admin';

export const BUILT_IN_SCOPES: Readonly<Record<string, ScopeDefinition>> = {
  profile: { description: 'Read your own profile (GET /me)', roles: [IMPLICIT_ROLE] },
  'admin:users': { description: 'Administer accounts: list, disable, lock, log out, grant roles, delete', roles: [ADMIN_ROLE] },
  'admin:audit': { description: 'Read the audit trail of every account', roles: [ADMIN_ROLE] },
  'admin:tenants': { description: 'Administer tenants: create them, add and remove members, grant tenant roles', roles: [ADMIN_ROLE] },
};

/** RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E ) */
export const SCOPE_TOKEN = /^[\x21\x23-\x5B\x5D-\x7E]+$/;

/** Distinct role combinations whose scopes are kept; past it the memo starts over. */
const ANSWERS_KEPT = 1_000;

export function createScopeCatalogue(definitions: Readonly<Record<string, ScopeDefinition>> = BUILT_IN_SCOPES): ScopeCatalogue {
  const globalRoles = new Set([IMPLICIT_ROLE, ADMIN_ROLE, ...Object.values(definitions).flatMap((d) => d.roles ?? [])]);
  for (const [name, d] of Object.entries(definitions)) {
    if (!SCOPE_TOKEN.test(name)) throw new TypeError(`scope ${JSON.stringify(name)} is not a valid RFC 6749 scope-token`);
    // Tokens carry global and tenant roles in one `roles` list, so the two sets of names must not
    // meet: a tenant role named like a global one would read as that global role everywhere.
    const clash = (d.tenantRoles ?? []).find((r) => globalRoles.has(r));
    if (clash !== undefined) throw new TypeError(`scope ${name}: ${clash} is a global role and cannot be a tenant role`);
  }
  const supported = Object.freeze(Object.keys(definitions).sort());
  const answered = new Map<string, ReadonlySet<string>>();
  const descriptions = Object.freeze(Object.fromEntries(Object.entries(definitions).map(([k, v]) => [k, v.description])));
  return Object.freeze({
    supported,
    descriptions,
    grantableRoles: Object.freeze([...new Set(Object.values(definitions).flatMap((d) => d.roles ?? []))].filter((r) => r !== IMPLICIT_ROLE).sort()),
    tenantRoles: Object.freeze([...new Set(Object.values(definitions).flatMap((d) => d.tenantRoles ?? []))].sort()),
    scopesForRoles(roles: readonly string[], tenantRoles: readonly string[] = []) {
      // Asked on every API-key request: the answer for one combination of roles never changes, and
      // there are few combinations. Callers only read the set (ReadonlySet).
      const key = `${roles.join('\u0000')}\u0001${tenantRoles.join('\u0000')}`;
      let scopes = answered.get(key);
      if (scopes === undefined) {
        const held = new Set([IMPLICIT_ROLE, ...roles]);
        const heldInTenant = new Set(tenantRoles);
        scopes = new Set(
          supported.filter((scope) => {
            const d = definitions[scope];
            return d !== undefined && ((d.roles ?? []).some((r) => held.has(r)) || (d.tenantRoles ?? []).some((r) => heldInTenant.has(r)));
          }),
        );
        if (answered.size >= ANSWERS_KEPT) answered.clear();
        answered.set(key, scopes);
      }
      return scopes;
    },
  });
}
