import type { ServiceAccount } from './service-accounts.js';

/** A service account as the API and the CLI print it: the same fields, names and order. */
export interface ServiceAccountJson {
  readonly id: string;
  readonly name: string;
  readonly roles: string[];
  readonly tenants: { readonly id: string; readonly slug: string; readonly roles: string[] }[];
  readonly created_at: string;
  readonly disabled_at: string | null;
}

export const serviceAccountJson = ({ account, tenants }: ServiceAccount): ServiceAccountJson => ({
  id: account.id,
  name: account.username,
  roles: [...account.roles],
  tenants: tenants.map((m) => ({ id: m.tenant.id, slug: m.tenant.slug, roles: [...m.roles] })),
  created_at: account.createdAt.toISOString(),
  disabled_at: account.disabledAt?.toISOString() ?? null,
});
