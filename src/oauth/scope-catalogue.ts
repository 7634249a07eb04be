/**
 * Which scopes exist and which roles grant them. Every user implicitly holds the `user` role.
 * The authorization issue replaces the built-in table with stored roles and permissions.
 */
export interface ScopeCatalogue {
  /** Advertised as `scopes_supported` (RFC 8414) and offered by Swagger's Authorize. */
  readonly supported: readonly string[];
  readonly descriptions: Readonly<Record<string, string>>;
  /** Every role some scope names, except the implicit one: what an admin may grant. */
  readonly grantableRoles: readonly string[];
  scopesForRoles(roles: readonly string[]): ReadonlySet<string>;
}

export interface ScopeDefinition {
  readonly description: string;
  /** Roles that grant this scope. */
  readonly roles: readonly string[];
}

export const IMPLICIT_ROLE = 'user';
export const ADMIN_ROLE = 'admin';

export const BUILT_IN_SCOPES: Readonly<Record<string, ScopeDefinition>> = {
  profile: { description: 'Read your own profile (GET /me)', roles: [IMPLICIT_ROLE] },
  'admin:users': { description: 'Administer accounts: list, disable, lock, log out, grant roles, delete', roles: [ADMIN_ROLE] },
  'admin:audit': { description: 'Read the audit trail of every account', roles: [ADMIN_ROLE] },
};

/** RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E ) */
export const SCOPE_TOKEN = /^[\x21\x23-\x5B\x5D-\x7E]+$/;

export function createScopeCatalogue(definitions: Readonly<Record<string, ScopeDefinition>> = BUILT_IN_SCOPES): ScopeCatalogue {
  for (const name of Object.keys(definitions)) {
    if (!SCOPE_TOKEN.test(name)) throw new TypeError(`scope ${JSON.stringify(name)} is not a valid RFC 6749 scope-token`);
  }
  const supported = Object.freeze(Object.keys(definitions).sort());
  const descriptions = Object.freeze(Object.fromEntries(Object.entries(definitions).map(([k, v]) => [k, v.description])));
  return Object.freeze({
    supported,
    descriptions,
    grantableRoles: Object.freeze([...new Set(Object.values(definitions).flatMap((d) => d.roles))].filter((r) => r !== IMPLICIT_ROLE).sort()),
    scopesForRoles(roles: readonly string[]) {
      const held = new Set([IMPLICIT_ROLE, ...roles]);
      return new Set(supported.filter((scope) => definitions[scope]?.roles.some((r) => held.has(r)) === true));
    },
  });
}
