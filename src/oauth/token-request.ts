import { auditRecord, type AuditContext, type AuditRecord } from '../audit/audit-event.js';
import {
  InvalidGrantError,
  InvalidRequestError,
  InvalidScopeError,
  LoginRefusedError,
  UnauthorizedClientError,
  UnsupportedGrantTypeError,
} from '../errors/errors.js';
import type { SessionGrant, StartSessionInput } from '../sessions/refresh-families.js';
import type { IssueAccessToken, IssuedAccessToken, IssueAccessTokenInput } from '../tokens/access-token-issuer.js';
import type { SessionRecord } from '../sessions/session-store.js';
import type { UserRecord } from '../users/user-store.js';
import { identifyClient, type BasicClientCredentials } from './client-identification.js';
import type { ClientRegistry, GrantType, OAuthClient } from './clients.js';
import { rejectRepeatedParameters, requireParam, single, type FormParameters } from './form-parameters.js';
import { SCOPE_TOKEN, type ScopeCatalogue } from './scope-catalogue.js';
import { selectTenant } from '../tenants/tenant-selection.js';
import type { TenantMembership } from '../tenants/tenant-store.js';

/** Form parameters as parsed: a repeated parameter arrives as an array. */
export type TokenRequestParams = FormParameters;
/** Client credentials from an `Authorization: Basic` header (RFC 6749 §2.3.1), if any. */
export type { BasicClientCredentials };

export interface TokenResponse {
  readonly access_token: string;
  readonly token_type: 'Bearer';
  readonly expires_in: number;
  readonly scope: string;
  readonly refresh_token: string;
}

export interface TokenRequestDeps {
  readonly clients: ClientRegistry;
  readonly scopes: ScopeCatalogue;
  readonly verifyPassword: (username: string, password: string) => Promise<UserRecord>;
  readonly findUser: (id: string) => Promise<UserRecord | undefined>;
  /** The tenants a user belongs to, with the roles held in each (login). */
  readonly membershipsOfUser: (userId: string) => Promise<readonly TenantMembership[]>;
  /** The roles held in one tenant now; undefined once the user has left it (refresh). */
  readonly tenantRolesOf: (tenantId: string, userId: string) => Promise<readonly string[] | undefined>;
  readonly startSession: (input: StartSessionInput, audit: AuditContext) => Promise<SessionGrant>;
  readonly exchangeRefreshToken: (token: string, clientId: string, requestedScopes: readonly string[], audit: AuditContext) => Promise<SessionGrant>;
  /** The session of a refresh token, read without spending it; undefined for a malformed or unknown token. */
  readonly sessionOfRefreshToken: (token: string) => Promise<SessionRecord | undefined>;
  /** Failed logins change nothing, so their audit rows are written on their own. */
  readonly recordAudit: (record: AuditRecord) => Promise<void>;
  readonly now: () => number;
  readonly issueAccessToken: (input: IssueAccessTokenInput) => Promise<IssuedAccessToken>;
  /** Takes the signing key now (StoreUnavailableError if the key set is stale); the result signs with it later. */
  readonly prepareAccessToken: () => IssueAccessToken;
}

/** What the HTTP layer knows about the caller, for the session's device label. */
export interface TokenRequestContext {
  readonly device: string;
  readonly ip: string | null;
  readonly audit: AuditContext;
}

export const SUPPORTED_GRANTS: readonly GrantType[] = ['password', 'refresh_token'];

/**
 * The token endpoint (RFC 6749 §3.2) as a pipeline of named checks, read top to bottom.
 * Each check throws the OAuth error RFC 6749 §5.2 assigns to its failure.
 */
export async function handleTokenRequest(
  deps: TokenRequestDeps,
  params: TokenRequestParams,
  basic: BasicClientCredentials | undefined,
  context: TokenRequestContext,
): Promise<TokenResponse> {
  rejectRepeatedParameters(params);
  const grantType = checkGrantType(params);
  const client = identifyClient(deps.clients, params, basic);
  checkClientMayUseGrant(client, grantType);
  const requested = parseRequestedScope(deps.scopes, params);
  return grantType === 'password' ? passwordGrant(deps, params, client, requested, context) : refreshTokenGrant(deps, params, client, requested, context);
}

/** RFC 6749 §4.3: a login starts a new session (refresh-token family). */
async function passwordGrant(
  deps: TokenRequestDeps,
  params: TokenRequestParams,
  client: OAuthClient,
  requested: readonly string[] | undefined,
  context: TokenRequestContext,
): Promise<TokenResponse> {
  const username = requireParam(params, 'username');
  const password = requireParam(params, 'password');
  const requestedTenant = single(params, 'tenant');
  if (requestedTenant !== undefined && (requestedTenant.length === 0 || requestedTenant.length > 64)) throw new InvalidRequestError('malformed tenant parameter');
  let user: UserRecord;
  let tenant: TenantMembership | undefined;
  try {
    user = await deps.verifyPassword(username, password);
    tenant = selectTenant(await deps.membershipsOfUser(user.id), requestedTenant, user.id);
  } catch (error) {
    if (error instanceof LoginRefusedError) {
      // Never the attempted username: people type passwords into that field.
      const record = auditRecord(context.audit, { event: 'login.failed', outcome: 'failure', reason: error.reason, subjectId: error.subjectId }, new Date(deps.now()));
      await deps.recordAudit(record);
    }
    throw error;
  }
  const tenantRoles = tenant?.roles ?? [];
  const granted = grantScopes(deps.scopes.scopesForRoles(user.roles, tenantRoles), requested);
  const tenantId = tenant?.tenant.id ?? null;
  const { session, refreshToken } = await deps.startSession(
    { userId: user.id, clientId: client.id, tenantId, scope: granted.join(' '), device: context.device, ip: context.ip },
    context.audit,
  );
  return respond(deps, { user, client, sessionId: session.id, tenantId, tenantRoles, scopes: granted, refreshToken });
}

/** RFC 6749 §6: rotation; the scope may narrow, never widen, and never exceeds what the user holds now. */
async function refreshTokenGrant(
  deps: TokenRequestDeps,
  params: TokenRequestParams,
  client: OAuthClient,
  requested: readonly string[] | undefined,
  context: TokenRequestContext,
): Promise<TokenResponse> {
  const presented = requireParam(params, 'refresh_token');
  // Whatever can fail comes before the spend: a 503 after it would leave the client a spent token
  // and no successor, and its retry would be taken for theft (the session revoked). So the user, the
  // tenant roles and the signing key are read first; after the rotation only local work is left.
  const known = await deps.sessionOfRefreshToken(presented);
  if (known === undefined) throw new InvalidGrantError('unknown or malformed refresh token');
  const user = await deps.findUser(known.userId);
  if (user === undefined || user.disabledAt !== null || user.lockedAt !== null) throw new InvalidGrantError('session user missing, disabled or locked');
  // Leaving the tenant ends the session: its roles there are gone, and so is its right to a token naming it.
  const tenantRoles = known.tenantId === null ? [] : await deps.tenantRolesOf(known.tenantId, user.id);
  if (tenantRoles === undefined) throw new InvalidGrantError('no longer a member of the session tenant');
  const issue = deps.prepareAccessToken();
  // The session's scope bounds the request inside the rotation, before the token is spent.
  const { session, refreshToken } = await deps.exchangeRefreshToken(presented, client.id, requested ?? [], context.audit);
  const sessionScopes = session.scope.split(' ').filter((s) => s.length > 0);
  const held = deps.scopes.scopesForRoles(user.roles, tenantRoles);
  const granted = (requested ?? sessionScopes).filter((s) => held.has(s));
  return respond(deps, { user, client, sessionId: session.id, tenantId: session.tenantId, tenantRoles, scopes: granted, refreshToken }, issue);
}

interface Grant {
  readonly user: UserRecord;
  readonly client: OAuthClient;
  readonly sessionId: string;
  readonly tenantId: string | null;
  readonly tenantRoles: readonly string[];
  readonly scopes: readonly string[];
  readonly refreshToken: string;
}

async function respond(deps: TokenRequestDeps, grant: Grant, issue: IssueAccessToken = deps.issueAccessToken): Promise<TokenResponse> {
  const { user } = grant;
  const issued = await issue({
    subject: user.id,
    clientId: grant.client.id,
    scopes: grant.scopes,
    sessionId: grant.sessionId,
    tokenVersion: user.tokenVersion,
    roles: [...user.roles, ...grant.tenantRoles],
    ...(grant.tenantId === null ? {} : { tenantId: grant.tenantId }),
  });
  return { access_token: issued.token, token_type: 'Bearer', expires_in: issued.expiresIn, scope: issued.scope, refresh_token: grant.refreshToken };
}

function checkGrantType(params: TokenRequestParams): GrantType {
  const grantType = requireParam(params, 'grant_type');
  if (!(SUPPORTED_GRANTS as readonly string[]).includes(grantType)) throw new UnsupportedGrantTypeError();
  return grantType as GrantType;
}


function checkClientMayUseGrant(client: OAuthClient, grantType: GrantType): void {
  if (!client.grantTypes.includes(grantType)) throw new UnauthorizedClientError(`client ${client.id} may not use ${grantType}`);
  if (grantType === 'password' && !client.firstParty) {
    throw new UnauthorizedClientError(`password grant refused for third-party client ${client.id}`);
  }
}

/** `undefined` means "no scope parameter": the user gets every scope their roles grant. */
function parseRequestedScope(catalogue: ScopeCatalogue, params: TokenRequestParams): readonly string[] | undefined {
  const raw = single(params, 'scope');
  if (raw === undefined) return undefined;
  const scopes = raw.split(' ').filter((s) => s.length > 0);
  if (raw.length > 1024 || !scopes.every((s) => SCOPE_TOKEN.test(s))) throw new InvalidScopeError('malformed scope parameter');
  const unknown = scopes.find((s) => !catalogue.supported.includes(s));
  if (unknown !== undefined) throw new InvalidScopeError(`unknown scope ${unknown.slice(0, 64)}`);
  return scopes;
}

/** The token carries what was asked for and the user holds: never more than the user holds. */
function grantScopes(held: ReadonlySet<string>, requested: readonly string[] | undefined): string[] {
  if (requested === undefined) return [...held];
  const granted = requested.filter((s) => held.has(s));
  if (requested.length > 0 && granted.length === 0) throw new InvalidScopeError('none of the requested scopes is held');
  return granted;
}
