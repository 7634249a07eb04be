import type { ApiKeyView, CreatedApiKey } from './api-keys.js';

/** A key as the API and the CLI print it (snake_case, ISO instants): never the secret, never the digest. */
export interface ApiKeyJson {
  readonly id: string;
  readonly name: string;
  readonly scopes: string[];
  readonly tenant: string | null;
  readonly created_at: string;
  readonly expires_at: string | null;
  readonly revoked_at: string | null;
  readonly last_used_at: string | null;
}

export const apiKeyJson = (k: ApiKeyView): ApiKeyJson => ({
  id: k.id,
  name: k.name,
  scopes: [...k.scopes],
  tenant: k.tenantId,
  created_at: k.createdAt.toISOString(),
  expires_at: k.expiresAt?.toISOString() ?? null,
  revoked_at: k.revokedAt?.toISOString() ?? null,
  last_used_at: k.lastUsedAt?.toISOString() ?? null,
});

/** The key itself is in this view only: the one time it is shown. */
export const createdApiKeyJson = (c: CreatedApiKey): ApiKeyJson & { readonly key: string } => ({ ...apiKeyJson(c.key), key: c.token });
