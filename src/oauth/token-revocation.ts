import { auditRecord, type AuditContext } from '../audit/audit-event.js';
import { InvalidTokenError, UnauthorizedClientError } from '../errors/errors.js';
import type { Revocations } from '../revocation/revocations.js';
import { digestRefreshToken, isRefreshTokenShaped } from '../sessions/refresh-token.js';
import type { SessionStore } from '../sessions/session-store.js';
import type { AccessTokenVerifier } from '../tokens/access-token-verifier.js';
import { identifyClient, type BasicClientCredentials } from './client-identification.js';
import type { ClientRegistry } from './clients.js';
import { rejectRepeatedParameters, requireParam, type FormParameters } from './form-parameters.js';

export interface TokenRevocationDeps {
  readonly clients: ClientRegistry;
  readonly sessions: Pick<SessionStore, 'findByRefreshDigest'>;
  readonly verifier: Pick<AccessTokenVerifier, 'verify'>;
  readonly revocations: Pick<Revocations, 'revokeSession' | 'revokeAccessToken'>;
  readonly now: () => number;
}

const NOT_YOURS = 'the token was not issued to this client';

/** What happened, for the log only: the client gets 200 for all of them (RFC 7009 §2.2). */
export type RevocationOutcome = 'refresh_token_revoked' | 'access_token_revoked' | 'unknown_token';

/**
 * RFC 7009 token revocation. The token's shape decides its type (`ghr_…` is a refresh token,
 * anything else is tried as an access token), so `token_type_hint` can only be a hint, as §2.1
 * says. A refresh token takes its whole session with it (§2.1: access tokens of the same grant
 * SHOULD die too); an access token is deny-listed until its `exp`. Unknown, expired and already
 * revoked tokens are success. A token issued to another client is refused and nothing changes.
 */
export async function handleRevocationRequest(
  deps: TokenRevocationDeps,
  params: FormParameters,
  basic: BasicClientCredentials | undefined,
  audit: AuditContext,
): Promise<RevocationOutcome> {
  rejectRepeatedParameters(params);
  const token = requireParam(params, 'token');
  const client = identifyClient(deps.clients, params, basic);
  const now = new Date(deps.now());

  if (isRefreshTokenShaped(token)) {
    const session = await deps.sessions.findByRefreshDigest(digestRefreshToken(token));
    if (session === undefined) return 'unknown_token';
    if (session.clientId !== client.id) throw new UnauthorizedClientError(`refresh token of client ${session.clientId} presented by ${client.id}`, NOT_YOURS);
    const record = auditRecord(
      audit,
      { event: 'token.revoked', outcome: 'success', reason: 'refresh_token', subjectId: session.userId, sessionId: session.id },
      now,
    );
    await deps.revocations.revokeSession(session.id, 'token_revoked', now, [record]);
    return 'refresh_token_revoked';
  }

  let claims;
  try {
    claims = await deps.verifier.verify(token);
  } catch (error) {
    // Expired, forged or garbage: nothing that could be used, so nothing to revoke.
    if (error instanceof InvalidTokenError) return 'unknown_token';
    throw error;
  }
  if (claims.client_id !== client.id) throw new UnauthorizedClientError(`access token of client ${claims.client_id} presented by ${client.id}`, NOT_YOURS);
  const record = auditRecord(
    audit,
    { event: 'token.revoked', outcome: 'success', reason: 'access_token', subjectId: claims.sub, sessionId: claims.sid ?? null },
    now,
  );
  await deps.revocations.revokeAccessToken(claims, now, [record]);
  return 'access_token_revoked';
}
