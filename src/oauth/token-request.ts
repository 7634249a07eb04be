import { auditRecord, type AuditContext, type AuditRecord } from '../audit/audit-event.js';
import {
  InvalidGrantError,
  InvalidRequestError,
  InvalidScopeError,
  InvalidTargetError,
  LoginRefusedError,
  UnauthorizedClientError,
  UnsupportedGrantTypeError,
} from '../errors/errors.js';
import type { SessionGrant, StartSessionInput } from '../sessions/refresh-families.js';
import type { IssueAccessToken, IssuedAccessToken, IssueAccessTokenInput } from '../tokens/access-token-issuer.js';
import type { RefreshTokenFacts } from '../sessions/refresh-token-facts.js';
import { authenticationOf, type SessionRecord } from '../sessions/session-store.js';
import type { UserRecord } from '../users/user-store.js';
import { PASSWORD_AND_CODE_METHODS, type MfaSignIn } from '../factors/mfa-sign-in.js';
import { secondFactorProofOf } from '../factors/second-factor.js';
import { identifyClient, presentedClientSecret, type BasicClientCredentials } from './client-identification.js';
import { authenticateServiceAccount, clientCredentialsToken, type ClientCredentialsDeps } from './client-credentials-grant.js';
import type { ClientRegistry, GrantType, OAuthClient } from './clients.js';
import { rejectRepeatedParameters, requireParam, single, type FormParameters } from './form-parameters.js';
import { resourceIdentifierProblem, type ResourceRegistry, type ResourceServer } from './resource-servers.js';
import { SCOPE_TOKEN, type ScopeCatalogue } from './scope-catalogue.js';
import { membershipsAtSignIn, selectTenant } from '../tenants/tenant-selection.js';
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
  /** None for the client-credentials grant: the client authenticates again instead (RFC 6749 §4.4.3). */
  readonly refresh_token?: string;
}

export interface TokenRequestDeps extends ClientCredentialsDeps {
  readonly clients: ClientRegistry;
  readonly scopes: ScopeCatalogue;
  /** RFC 8707 resource servers a `resource` parameter may name. */
  readonly resources: ResourceRegistry;
  readonly verifyPassword: (username: string, password: string) => Promise<UserRecord>;
  readonly findUser: (id: string) => Promise<UserRecord | undefined>;
  /** The tenants a user belongs to, with the roles held in each (login). */
  readonly membershipsOfUser: (userId: string) => Promise<readonly TenantMembership[]>;
  /** The roles held in one tenant now; undefined once the user has left it (refresh). */
  readonly tenantRolesOf: (tenantId: string, userId: string) => Promise<readonly string[] | undefined>;
  readonly startSession: (input: StartSessionInput, audit: AuditContext) => Promise<SessionGrant>;
  /** `resource`: the one the refresh names (it must be the session's); undefined: none named. */
  readonly exchangeRefreshToken: (
    token: string,
    clientId: string,
    requestedScopes: readonly string[],
    audit: AuditContext,
    resource?: string,
  ) => Promise<SessionGrant>;
  /** The session of a refresh token, read without spending it; undefined for a malformed or unknown token. */
  readonly sessionOfRefreshToken: (token: string) => Promise<RefreshTokenFacts | undefined>;
  /** After a right password: the MFA challenge of a user with a second factor; the factor step that spends it (src/factors). */
  readonly mfa: Pick<MfaSignIn, 'challengeIfRequired' | 'complete'>;
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

export const SUPPORTED_GRANTS: readonly GrantType[] = ['password', 'refresh_token', 'client_credentials'];
/**
 * The factor step of a password sign-in with a second factor (an extension grant, RFC 6749 §4.5):
 * `mfa_challenge` from the password step's `mfa_required` answer, and `otp` or `recovery_code`.
 * The tokens are what the password step asked for (its scope, tenant and resource).
 */
export const MFA_GRANT = 'urn:gatehouse:params:oauth:grant-type:mfa';
/** RFC 8414 `token_endpoint_auth_methods_supported`: public clients (`none`) and service accounts (a key as the secret). */
export const TOKEN_ENDPOINT_AUTH_METHODS = ['none', 'client_secret_basic', 'client_secret_post'] as const;

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
  return (await issueTokens(deps, params, basic, context)).response;
}

/**
 * {@link handleTokenRequest}, also naming the client served (its cookie mode decides how the refresh
 * token travels); none for a service account, a confidential client outside the registry whose
 * answer has no refresh token.
 */
export async function issueTokens(
  deps: TokenRequestDeps,
  params: TokenRequestParams,
  basic: BasicClientCredentials | undefined,
  context: TokenRequestContext,
): Promise<{ readonly response: TokenResponse; readonly client: OAuthClient | undefined }> {
  // Before the repeated-parameter check, which would call two resources invalid_request.
  const resource = checkResource(deps.resources, params);
  rejectRepeatedParameters(params);
  const grantType = checkGrantType(params);
  if (grantType === MFA_GRANT) {
    const client = identifyClient(deps.clients, params, basic);
    // The second half of a password sign-in: the clients that may use the password grant may finish it.
    checkClientMayUseGrant(client, 'password');
    return { response: await mfaGrant(deps, params, client, context), client };
  }
  // A confidential client (a service account) is authenticated, not looked up among the public clients.
  if (grantType === 'client_credentials') return { response: await clientCredentialsGrant(deps, params, basic, resource, context), client: undefined };
  const client = identifyClient(deps.clients, params, basic);
  checkClientMayUseGrant(client, grantType);
  const requested = parseRequestedScope(deps.scopes, params);
  const response =
    grantType === 'password'
      ? await passwordGrant(deps, params, client, requested, resource, context)
      : await refreshTokenGrant(deps, params, client, requested, resource, context);
  return { response, client };
}

/**
 * A sign-in proved otherwise than by a password alone (a passkey, a second factor): the client,
 * scope, resource and tenant checks and the answer of the password grant, the user from
 * `proof.authenticate` (which throws LoginRefusedError as a wrong password would; it is audited
 * alike), the session recording `proof.methods` (RFC 8176) as how the user authenticated.
 */
export async function issueTokensForSignIn(
  deps: TokenRequestDeps,
  params: TokenRequestParams,
  proof: SignInProof,
  context: TokenRequestContext,
): Promise<{ readonly response: TokenResponse; readonly client: OAuthClient }> {
  const resource = checkResource(deps.resources, params);
  rejectRepeatedParameters(params);
  const client = identifyClient(deps.clients, params, undefined);
  // A first-party sign-in like the password grant: the same clients may use it.
  checkClientMayUseGrant(client, 'password');
  const requested = parseRequestedScope(deps.scopes, params);
  return { response: await signInGrant(deps, params, client, requested, resource, context, proof), client };
}

/** RFC 6749 §4.3: a login starts a new session (refresh-token family). */
async function passwordGrant(
  deps: TokenRequestDeps,
  params: TokenRequestParams,
  client: OAuthClient,
  requested: readonly string[] | undefined,
  resource: ResourceServer | undefined,
  context: TokenRequestContext,
): Promise<TokenResponse> {
  const username = requireParam(params, 'username');
  const password = requireParam(params, 'password');
  const tenant = single(params, 'tenant');
  return signInGrant(deps, params, client, requested, resource, context, {
    methods: ['pwd'],
    authenticate: () => deps.verifyPassword(username, password),
    secondFactor: async (user) => {
      const step = {
        clientId: client.id,
        requestedScopes: requested === undefined ? null : [...requested],
        tenant: tenant ?? null,
        resource: resource?.identifier ?? null,
        yields: 'tokens',
      } as const;
      const challenge = await deps.mfa.challengeIfRequired(user, step, context.audit);
      if (challenge !== undefined) throw challenge;
    },
  });
}

/** The factor step: the challenge spent with a code, then the sign-in the password step asked for, with both factors recorded. */
async function mfaGrant(deps: TokenRequestDeps, params: TokenRequestParams, client: OAuthClient, context: TokenRequestContext): Promise<TokenResponse> {
  const challenge = requireParam(params, 'mfa_challenge');
  const proof = secondFactorProofOf({ otp: single(params, 'otp'), recoveryCode: single(params, 'recovery_code') });
  if (proof === undefined) throw new InvalidRequestError('exactly one of otp and recovery_code is required');
  const done = await deps.mfa.complete(challenge, proof, { clientId: client.id, yields: 'tokens' }, context.audit);
  const resource = done.step.resource === null ? undefined : deps.resources.find(done.step.resource);
  if (done.step.resource !== null && resource === undefined) throw new InvalidTargetError('the resource of the password step is no longer registered');
  const stepParams = done.step.tenant === null ? {} : { tenant: done.step.tenant };
  return signInGrant(deps, stepParams, client, done.step.requestedScopes ?? undefined, resource, context, {
    methods: PASSWORD_AND_CODE_METHODS,
    authenticate: async () => done.user,
  });
}

export interface SignInProof {
  readonly authenticate: () => Promise<UserRecord>;
  readonly methods: readonly string[];
  /**
   * After the user and the tenant are known: throws MfaRequiredError (a challenge, no session)
   * for a user who has a second factor to present as well. None: the proof is complete.
   */
  readonly secondFactor?: (user: UserRecord) => Promise<void>;
}

/** The user `proof` proves, in the tenant asked for: a new session and its tokens. */
async function signInGrant(
  deps: TokenRequestDeps,
  params: TokenRequestParams,
  client: OAuthClient,
  requested: readonly string[] | undefined,
  resource: ResourceServer | undefined,
  context: TokenRequestContext,
  proof: SignInProof,
): Promise<TokenResponse> {
  const requestedTenant = single(params, 'tenant');
  if (requestedTenant !== undefined && (requestedTenant.length === 0 || requestedTenant.length > 64))
    throw new InvalidRequestError('malformed tenant parameter');
  let user: UserRecord;
  let tenant: TenantMembership | undefined;
  try {
    user = await proof.authenticate();
    tenant = selectTenant(await membershipsAtSignIn(user, deps.membershipsOfUser), requestedTenant, user.id);
    await proof.secondFactor?.(user);
  } catch (error) {
    if (error instanceof LoginRefusedError) {
      // Never the attempted username: people type passwords into that field.
      const record = auditRecord(
        context.audit,
        { event: 'login.failed', outcome: 'failure', reason: error.reason, subjectId: error.subjectId },
        new Date(deps.now()),
      );
      await deps.recordAudit(record);
    }
    throw error;
  }
  const tenantRoles = tenant?.roles ?? [];
  const granted = grantScopes(heldFor(deps.scopes.scopesForRoles(user.roles, tenantRoles), resource), requested);
  const tenantId = tenant?.tenant.id ?? null;
  const { session, refreshToken } = await deps.startSession(
    {
      userId: user.id,
      clientId: client.id,
      tenantId,
      scope: granted.join(' '),
      ...(resource === undefined ? {} : { resource: resource.identifier }),
      device: context.device,
      ip: context.ip,
      authentication: { methods: proof.methods, time: Math.floor(deps.now() / 1000) },
    },
    context.audit,
  );
  return respond(deps, { user, client, session, tenantId, tenantRoles, scopes: granted, refreshToken, resource });
}

/**
 * What still stands behind a session's next access token, read now: its user (live, neither
 * disabled nor locked), the user's roles in its tenant (leaving the tenant ends the session: its
 * roles there are gone, and so is its right to a token naming it), its resource (still registered)
 * and the scopes those roles hold for that resource. InvalidGrantError or InvalidTargetError when
 * any of it is gone.
 */
async function standingOfSession(
  deps: TokenRequestDeps,
  session: Pick<SessionRecord, 'userId' | 'tenantId' | 'resource'>,
): Promise<{ user: UserRecord; tenantRoles: readonly string[]; resource: ResourceServer | undefined; held: ReadonlySet<string> }> {
  const user = await deps.findUser(session.userId);
  if (user === undefined || user.disabledAt !== null || user.lockedAt !== null) throw new InvalidGrantError('session user missing, disabled or locked');
  const tenantRoles = session.tenantId === null ? [] : await deps.tenantRolesOf(session.tenantId, user.id);
  if (tenantRoles === undefined) throw new InvalidGrantError('no longer a member of the session tenant');
  const resource = session.resource === null ? undefined : deps.resources.find(session.resource);
  if (session.resource !== null && resource === undefined) throw new InvalidTargetError("the session's resource is no longer registered");
  return { user, tenantRoles, resource, held: heldFor(deps.scopes.scopesForRoles(user.roles, tenantRoles), resource) };
}

/** RFC 6749 §6: rotation; the scope may narrow, never widen, and never exceeds what the user holds now. */
async function refreshTokenGrant(
  deps: TokenRequestDeps,
  params: TokenRequestParams,
  client: OAuthClient,
  requested: readonly string[] | undefined,
  named: ResourceServer | undefined,
  context: TokenRequestContext,
): Promise<TokenResponse> {
  const presented = requireParam(params, 'refresh_token');
  // Whatever can fail comes before the spend: a 503 after it would leave the client a spent token
  // and no successor, and its retry would be taken for theft (the session revoked). So the user, the
  // tenant roles, the session's resource and the signing key are read first; after the rotation
  // only local work is left.
  const known = await deps.sessionOfRefreshToken(presented);
  if (known === undefined) throw new InvalidGrantError('unknown or malformed refresh token');
  const { user, tenantRoles, resource, held } = await standingOfSession(deps, known);
  const granted = (requested ?? known.scope.split(' ').filter((s) => s.length > 0)).filter((s) => held.has(s));
  // As at login: a token for a resource carries at least one of its scopes.
  if (resource !== undefined && granted.length === 0) throw new InvalidScopeError("none of the resource's scopes is held any more");
  const issue = deps.prepareAccessToken();
  // The session's scope and resource bound the request inside the rotation, before the token is spent.
  const { session, refreshToken } =
    named === undefined
      ? await deps.exchangeRefreshToken(presented, client.id, requested ?? [], context.audit)
      : await deps.exchangeRefreshToken(presented, client.id, requested ?? [], context.audit, named.identifier);
  return respond(deps, { user, client, session, tenantId: session.tenantId, tenantRoles, scopes: granted, refreshToken, resource }, issue);
}

/** RFC 6749 §4.4: a service account's short-lived access token; no refresh token, no session. */
async function clientCredentialsGrant(
  deps: TokenRequestDeps,
  params: TokenRequestParams,
  basic: BasicClientCredentials | undefined,
  resource: ResourceServer | undefined,
  context: TokenRequestContext,
): Promise<TokenResponse> {
  const presented = presentedClientSecret(params, basic);
  const requested = parseRequestedScope(deps.scopes, params);
  const issue = deps.prepareAccessToken();
  const principal = await authenticateServiceAccount(deps, presented, context.audit);
  // What the key may carry now (its scopes ∩ the account's), narrowed to the request and the resource.
  const granted = grantScopes(heldFor(principal.scopes, resource), requested);
  const issued = await issue(clientCredentialsToken(principal, presented.clientId, granted, resource?.identifier));
  return { access_token: issued.token, token_type: 'Bearer', expires_in: issued.expiresIn, scope: issued.scope };
}

interface Grant {
  readonly user: UserRecord;
  readonly client: Pick<OAuthClient, 'id'>;
  /** Its id is the tokens' `sid`; its authentication facts their `amr` and `auth_time`. */
  readonly session: Pick<SessionRecord, 'id' | 'authMethods' | 'authTime'>;
  readonly tenantId: string | null;
  readonly tenantRoles: readonly string[];
  readonly scopes: readonly string[];
  /** None after a step-up: the session's refresh token is not rotated, only a new access token issued. */
  readonly refreshToken: string | undefined;
  /** RFC 8707: the token's audience; undefined: Gatehouse's own. */
  readonly resource: ResourceServer | undefined;
}

async function respond(deps: TokenRequestDeps, grant: Grant, issue: IssueAccessToken = deps.issueAccessToken): Promise<TokenResponse> {
  const { user } = grant;
  const issued = await issue({
    subject: user.id,
    clientId: grant.client.id,
    scopes: grant.scopes,
    sessionId: grant.session.id,
    authentication: authenticationOf(grant.session),
    tokenVersion: user.tokenVersion,
    roles: [...user.roles, ...grant.tenantRoles],
    ...(grant.tenantId === null ? {} : { tenantId: grant.tenantId }),
    ...(grant.resource === undefined ? {} : { audience: grant.resource.identifier }),
  });
  const response = { access_token: issued.token, token_type: 'Bearer', expires_in: issued.expiresIn, scope: issued.scope } as const;
  return grant.refreshToken === undefined ? response : { ...response, refresh_token: grant.refreshToken };
}

/**
 * A new access token of a live session after a step-up: what a refresh would give (the session's
 * scope as far as the user still holds it, its tenant and resource, its authentication as now
 * recorded), without spending its refresh token. InvalidGrantError when the session's user or
 * tenant no longer stands.
 */
export async function accessTokenOfSession(deps: TokenRequestDeps, session: SessionRecord): Promise<TokenResponse> {
  const { user, tenantRoles, resource, held } = await standingOfSession(deps, session);
  const scopes = session.scope.split(' ').filter((s) => s.length > 0 && held.has(s));
  return respond(deps, { user, client: { id: session.clientId }, session, tenantId: session.tenantId, tenantRoles, scopes, refreshToken: undefined, resource });
}

function checkGrantType(params: TokenRequestParams): GrantType | typeof MFA_GRANT {
  const grantType = requireParam(params, 'grant_type');
  if (grantType === MFA_GRANT) return MFA_GRANT;
  if (!(SUPPORTED_GRANTS as readonly string[]).includes(grantType)) throw new UnsupportedGrantTypeError();
  return grantType as GrantType;
}

function checkClientMayUseGrant(client: OAuthClient, grantType: GrantType): void {
  if (!client.grantTypes.includes(grantType)) throw new UnauthorizedClientError(`client ${client.id} may not use ${grantType}`);
  if (grantType === 'password' && !client.firstParty) {
    throw new UnauthorizedClientError(`password grant refused for third-party client ${client.id}`);
  }
}

/**
 * RFC 8707 §2: the one resource the token is for, or undefined when none is named. Only a
 * registered identifier, matched exactly, is accepted; one `resource` only (several would need a
 * token valid at several services, which is what resource indicators exist to avoid).
 */
function checkResource(resources: ResourceRegistry, params: TokenRequestParams): ResourceServer | undefined {
  const raw = params.resource;
  if (raw === undefined) return undefined;
  if (typeof raw !== 'string') throw new InvalidTargetError('resource given more than once');
  const problem = resourceIdentifierProblem(raw);
  if (problem !== undefined) throw new InvalidTargetError(`resource ${problem}`);
  const found = resources.find(raw);
  if (found === undefined) throw new InvalidTargetError(`unknown resource ${raw.slice(0, 128)}`);
  return found;
}

/** With a resource, only the scopes it defines count as held: the token carries nothing else. */
function heldFor(held: ReadonlySet<string>, resource: ResourceServer | undefined): ReadonlySet<string> {
  return resource === undefined ? held : new Set(resource.scopes.filter((s) => held.has(s)));
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
  if (requested === undefined) {
    // Only with a resource can nothing be held: the user has none of the scopes it defines.
    if (held.size === 0) throw new InvalidScopeError("none of the resource's scopes is held");
    return [...held];
  }
  const granted = requested.filter((s) => held.has(s));
  if (requested.length > 0 && granted.length === 0) throw new InvalidScopeError('none of the requested scopes is held');
  return granted;
}
