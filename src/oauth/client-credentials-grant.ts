import { auditRecord, type AuditContext, type AuditRecord } from '../audit/audit-event.js';
import { ClientAuthenticationFailedError, InvalidTokenError, ThrottledError } from '../errors/errors.js';
import type { ApiKeyPrincipal } from '../guard/principal.js';
import type { IssueAccessTokenInput, IssuedAccessToken } from '../tokens/access-token-issuer.js';
import type { UserRecord } from '../users/user-store.js';
import type { PresentedClientSecret } from './client-identification.js';

/**
 * RFC 6749 §4.4, the client-credentials grant, for service accounts: the account is a confidential
 * client whose `client_id` is its id (the UUID `/admin/service-accounts` shows) and whose
 * `client_secret` is one of its API keys. What the key proves is decided exactly as for the key
 * on any request (src/apikeys/api-keys.ts: digest, revocation, expiry, the owner disabled, locked
 * or gone, scopes the owner still holds): this grant adds only that the key's owner is the client
 * named and a service account. A person's key is no client secret.
 */
export interface ClientCredentialsDeps {
  /** InvalidTokenError for a key that proves nothing now; the same digest work for any key. */
  readonly authenticateApiKey: (key: string, audit: AuditContext) => Promise<ApiKeyPrincipal>;
  readonly findUser: (id: string) => Promise<UserRecord | undefined>;
  /** The key's own budget (`GATEHOUSE_LIMIT_API_KEY`): a grant is a use of the key. */
  readonly apiKeyLimit?: (keyId: string) => Promise<{ readonly retryAfterMs: number; readonly limit: string } | undefined>;
  readonly recordAudit: (record: AuditRecord) => Promise<void>;
  readonly now: () => number;
}

/** The service account the presented secret proves, or ClientAuthenticationFailedError (invalid_client, audited). */
export async function authenticateServiceAccount(deps: ClientCredentialsDeps, presented: PresentedClientSecret, audit: AuditContext): Promise<ApiKeyPrincipal> {
  try {
    // The key first, whatever the client_id says: an unknown client costs the same work as a wrong secret.
    let principal: ApiKeyPrincipal;
    try {
      principal = await deps.authenticateApiKey(presented.clientSecret, audit);
    } catch (error) {
      if (error instanceof InvalidTokenError) throw new ClientAuthenticationFailedError('bad_secret', null, error.logReason ?? error.message);
      throw error;
    }
    if (principal.subject !== presented.clientId)
      throw new ClientAuthenticationFailedError('not_the_owner', principal.subject, 'the key is not this client_id');
    if ((await deps.findUser(principal.subject))?.kind !== 'service')
      throw new ClientAuthenticationFailedError('not_a_service_account', principal.subject, "a person's key is no client secret");
    const refusal = await deps.apiKeyLimit?.(principal.keyId);
    if (refusal !== undefined) throw new ThrottledError(refusal.retryAfterMs, refusal.limit);
    return principal;
  } catch (error) {
    if (error instanceof ClientAuthenticationFailedError) {
      const record = auditRecord(
        audit,
        { event: 'client_credentials.failed', outcome: 'failure', reason: error.reason, subjectId: error.subjectId },
        new Date(deps.now()),
      );
      await deps.recordAudit(record);
    }
    throw error;
  }
}

/** What the token carries: the account, the client, the key's tenant and roles, and the scopes granted. */
export function clientCredentialsToken(
  principal: ApiKeyPrincipal,
  clientId: string,
  scopes: readonly string[],
  audience: string | undefined,
): IssueAccessTokenInput {
  return {
    subject: principal.subject,
    clientId,
    scopes,
    tokenVersion: principal.tokenVersion,
    roles: principal.roles,
    // Revoking the key revokes the token; the token never outlives the key.
    apiKeyId: principal.keyId,
    ...(principal.keyEndsAt === undefined ? {} : { notAfter: principal.keyEndsAt }),
    ...(principal.tenantId === undefined ? {} : { tenantId: principal.tenantId }),
    ...(audience === undefined ? {} : { audience }),
  };
}

export type { IssuedAccessToken };
