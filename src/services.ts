import type { AuditLog } from './audit/audit-event.js';
import type { Config } from './config/config.js';
import { createThrottle, type Throttle } from './throttle/throttle.js';
import { createDrizzleAuditLog } from './stores/db/drizzle-audit-log.js';
import { createDrizzleUserDirectory } from './stores/db/drizzle-user-directory.js';
import type { UserDirectory } from './users/user-directory.js';
import { startHousekeeping, type Housekeeping } from './sessions/housekeeping.js';
import { purgeExpired } from './stores/db/drizzle-housekeeping.js';
import { createServiceEventSink, type ServiceEventSink } from './observability/service-events.js';
import { createGatehouseMetrics, jwkCreatedAtMs, timedEphemeralStore, type GatehouseMetrics } from './observability/metrics.js';
import { propagatingSessionStore, propagatingUserStore, startRevocations, type Revocations } from './revocation/revocations.js';
import { createDrizzleRevocationStore } from './stores/db/drizzle-revocation-store.js';
import { createRevocationPages, type RevocationPages } from './revocation/revocation-pages.js';
import { createAuthenticator, type Authenticator } from './guard/authenticator.js';
import { createKeySet, type KeySet } from './keys/key-set.js';
import { loadOrCreateDevelopmentKeys } from './keys/development-keys.js';
import { readSigningKeyFile, type PrivateSigningJwk } from './keys/signing-key-file.js';
import { startStoredKeys, type StoredKeys } from './keys/stored-keys.js';
import { createDrizzleSigningKeyStore } from './stores/db/drizzle-signing-key-store.js';
import { createClientRegistry, BROWSER_CLIENT_ID, BUILT_IN_CLIENTS, type ClientRegistry, type OAuthClient } from './oauth/clients.js';
import { createBrowserSessions, type BrowserSessions } from './sessions/browser-sessions.js';
import { createWsTickets, type WsTickets } from './sockets/ws-tickets.js';
import { BUILT_IN_SCOPES, createScopeCatalogue, type ScopeCatalogue, type ScopeDefinition } from './oauth/scope-catalogue.js';
import { readResourceFile } from './oauth/resource-file.js';
import { createResourceRegistry, type ResourceRegistry, type ResourceServer } from './oauth/resource-servers.js';
import { PasswordHasher, type PasswordHasherOptions } from './passwords/password-hasher.js';
import { observeQueries, openDatabase, type Database } from './stores/db/database.js';
import { createDrizzleSessionStore } from './stores/db/drizzle-session-store.js';
import { createDrizzleUserStore } from './stores/db/drizzle-user-store.js';
import { backfillUsernameSkeletons } from './stores/db/username-skeleton-backfill.js';
import {
  exchangeRefreshToken,
  sessionIdOfRefreshDigest,
  sessionOfRefreshToken,
  startSession,
  type RefreshFamilyDeps,
  type SecurityEvent,
  type SessionPolicy,
} from './sessions/refresh-families.js';
import type { TokenRequestDeps } from './oauth/token-request.js';
import { verifyPasswordLogin } from './users/password-login.js';
import type { SessionStore } from './sessions/session-store.js';
import type { EphemeralStore, Subscription } from './stores/ephemeral/ephemeral-store.js';
import { openEphemeralStore } from './stores/ephemeral/open-ephemeral-store.js';
import { createAccessTokenIssuer, type IssueAccessToken, type IssueAccessTokenInput, type IssuedAccessToken } from './tokens/access-token-issuer.js';
import { createAccessTokenVerifier, restrictAudience, type AccessTokenVerifier } from './tokens/access-token-verifier.js';
import type { PasswordHashing } from './users/password-hashing.js';
import { createCachedUserStore } from './users/cached-user-store.js';
import { createRefreshTokenFactsCache, type RefreshTokenFactsCache } from './sessions/refresh-token-facts.js';
import type { UserStore } from './users/user-store.js';
import type { TenantStore } from './tenants/tenant-store.js';
import { createDrizzleTenantStore } from './stores/db/drizzle-tenant-store.js';
import { createDrizzleUnitOfWork } from './stores/db/drizzle-unit-of-work.js';
import { API_KEY_CHANNEL, createApiKeys, type ApiKeys } from './apikeys/api-keys.js';
import { resolveApiKeyPeppers } from './apikeys/development-pepper.js';
import { createDrizzleApiKeyStore } from './stores/db/drizzle-api-key-store.js';
import type { Mailer } from './mail/mailer.js';
import { openMailer } from './mail/open-mailer.js';
import { createBackgroundWork, type BackgroundWork } from './recovery/background-work.js';
import type { EmailCodeStore } from './recovery/email-code-store.js';
import { createDrizzleEmailCodeStore } from './stores/db/drizzle-email-code-store.js';
import { createPasskeys, type Passkeys } from './passkeys/passkeys.js';
import type { SecondFactorPresence } from './guard/factor-change.js';
import { createDrizzlePasskeyStore } from './stores/db/drizzle-passkey-store.js';
import { createDrizzleFactorStore } from './stores/db/drizzle-factor-store.js';
import type { FactorDeps } from './factors/factors.js';
import { lazyFactorKek } from './factors/factor-kek.js';
import { assertSealedFactorsOpen } from './factors/sealed-factor-check.js';
import { createMfaChallenges } from './factors/mfa-challenge.js';
import { createMfaSignIn, type MfaSignIn } from './factors/mfa-sign-in.js';
import { secondFactorDepsOf } from './factors/second-factor.js';

/** Everything the HTTP layer needs, built once from the configuration. No Fastify in here. */
export interface GatehouseServices {
  readonly config: Config;
  readonly database: Database;
  readonly ephemeral: EphemeralStore;
  readonly users: UserStore;
  /** Reads straight from the database, past the user cache: for routes that ask for a fresh check. */
  readonly uncachedUsers: Pick<UserStore, 'findById' | 'findByUsernameKey' | 'findByVerifiedEmailKey'>;
  readonly tenants: TenantStore;
  readonly sessions: SessionStore;
  readonly sessionPolicy: SessionPolicy;
  /** Browser cookie sessions: sign-in, the cookie's authentication, sign-out (`POST|DELETE /auth/session`). */
  readonly browserSessions: BrowserSessions;
  /** Single-use WebSocket tickets (`POST /auth/ws-ticket`, redeemed by the `ticket` scheme on socket routes). */
  readonly wsTickets: WsTickets;
  /** Epoch milliseconds; injectable so tests control expiry without sleeping. */
  readonly now: () => number;
  readonly hasher: PasswordHashing;
  readonly keySet: () => KeySet;
  readonly clients: ClientRegistry;
  readonly scopes: ScopeCatalogue;
  /** RFC 8707 resource servers (GATEHOUSE_RESOURCES and the `resources` override); empty: one audience for every token. */
  readonly resources: ResourceRegistry;
  /** Accepts tokens for Gatehouse's own audience (GATEHOUSE_AUDIENCE) only: what its own API trusts. */
  readonly verifier: AccessTokenVerifier;
  /**
   * Accepts every token this Gatehouse issues, whatever its audience (its own or a resource's),
   * over the same cache as `verifier`: for revocation (RFC 7009), never to authorize a request.
   */
  readonly issuedTokenVerifier: AccessTokenVerifier;
  readonly authenticator: Authenticator;
  /**
   * An authenticator for routes that accept tokens for `audiences` only (a library host's own
   * resource): each must be a GATEHOUSE_AUDIENCE entry or a registered resource.
   */
  authenticatorFor(audiences: readonly string[]): Authenticator;
  readonly revocations: Revocations;
  /** API keys of users (`ghk_…`): create, list, revoke, rotate, and the api_key scheme's check. */
  readonly apiKeys: ApiKeys;
  /** The live revocation state from the database, paged, for resource servers catching up (`GET /revocations`). */
  readonly revocationPages: RevocationPages;
  readonly audit: AuditLog;
  /** Account administration (admin API, CLI); never on the request path of a login or a token check. */
  readonly userDirectory: UserDirectory;
  /** Purges dead sessions, expired deny-list entries and old sealed successors on a schedule. */
  readonly housekeeping: Housekeeping;
  /** Background events (Redis outages, failed jobs); the HTTP app attaches its log. */
  readonly events: ServiceEventSink;
  /** Prometheus metrics; exposed only by the separate metrics server (`GATEHOUSE_METRICS_PORT`). */
  readonly metrics: GatehouseMetrics;
  /** GATEHOUSE_LIMIT_* counters over the ephemeral store (src/throttle); the HTTP layer enforces them. */
  readonly throttle: Throttle;
  /** SMTP, the development outbox, or off (production without GATEHOUSE_SMTP_URL): see src/mail. */
  readonly mailer: Mailer;
  /** Mailed codes (password reset, address confirmation), kept as digests. */
  readonly emailCodes: EmailCodeStore;
  /** Jobs a request starts without waiting (mailing a code): the answer never depends on their outcome. */
  readonly backgroundWork: BackgroundWork;
  /** WebAuthn passkeys: registration and sign-in ceremonies, list, removal (src/passkeys). */
  readonly passkeys: Passkeys;
  /** Whether a user has a second factor: decides what a factor change asks for (guard/factor-change.ts). */
  readonly secondFactors: SecondFactorPresence;
  /** Second factors (TOTP, recovery codes): their store, the KEK that seals them, the code throttle. */
  readonly factors: FactorDeps;
  /** The password step's MFA challenge and the factor step that spends it (src/factors/mfa-sign-in.ts). */
  readonly mfaSignIn: MfaSignIn;
  issueAccessToken(input: IssueAccessTokenInput): Promise<IssuedAccessToken>;
  /** Takes the signing key now (503 if the key set is stale); the function returned signs with it. */
  prepareAccessToken(): IssueAccessToken;
  /** What the token endpoint pipeline needs, wired to these stores; the hooks report to the caller's log. */
  tokenRequestDeps(hooks: TokenRequestHooks): TokenRequestDeps;
  /** Where the signing keys came from, for the startup banner. */
  readonly keySource: { readonly kind: 'file' | 'development' | 'store'; readonly path: string; readonly created: boolean };
  /** With GATEHOUSE_KEY_SOURCE=store: the live key set and its lifecycle (`gatehouse keys`); else undefined. */
  readonly storedKeys: StoredKeys | undefined;
  close(): Promise<void>;
}

export interface TokenRequestHooks {
  readonly onSecurityEvent: (event: SecurityEvent) => void;
  readonly onRehashFailed: (error: unknown) => void;
}

export interface ServiceOverrides {
  /** Signing keys given directly instead of read from GATEHOUSE_SIGNING_KEYS (library use, tests). */
  readonly signingKeys?: readonly PrivateSigningJwk[] | undefined;
  /** Scopes beside the built-in ones (a library host's own permissions, such as `orders:read`). */
  readonly scopes?: Readonly<Record<string, ScopeDefinition>>;
  /** RFC 8707 resource servers beside those of GATEHOUSE_RESOURCES (a library host registers its own here). */
  readonly resources?: readonly ResourceServer[];
  /** Extra OAuth clients beside the built-in first-party `gatehouse-cli`. */
  readonly clients?: readonly OAuthClient[];
  readonly passwordHasher?: PasswordHasherOptions;
  /** Clock in epoch milliseconds (tests). */
  readonly now?: () => number;
  readonly onStoreError?: (error: Error) => void;
  /** Housekeeping interval in ms (default 10 min). */
  readonly housekeepingIntervalMs?: number;
  /** Fail closed once the revocation feed has been unconfirmed this long (default 3 s). */
  readonly revocationStaleAfterMs?: number;
  /** Stored keys: scheduler step and reload this often (default 5 s). */
  readonly keyPollIntervalMs?: number;
  /** Live entries each throttling limit keeps in process at most (default 100 000; tests fill it). */
  readonly throttleCapacity?: number;
}

/** The built-in scopes plus a host's own; a host may not redefine a built-in one. */
function extraScopes(extra: Readonly<Record<string, ScopeDefinition>> = {}): Readonly<Record<string, ScopeDefinition>> {
  const clash = Object.keys(extra).find((name) => name in BUILT_IN_SCOPES);
  if (clash !== undefined) throw new TypeError(`scope ${clash} is built in and cannot be redefined`);
  return { ...BUILT_IN_SCOPES, ...extra };
}

async function loadKeys(config: Config): Promise<{ keys: PrivateSigningJwk[]; source: GatehouseServices['keySource'] }> {
  if (config.signingKeysPath !== undefined) {
    const keys = await readSigningKeyFile(config.signingKeysPath, { production: config.env === 'production' });
    return { keys, source: { kind: 'file', path: config.signingKeysPath, created: false } };
  }
  // loadConfig already refused production without GATEHOUSE_SIGNING_KEYS.
  const dev = await loadOrCreateDevelopmentKeys(config.dataDir);
  return { keys: dev.keys, source: { kind: 'development', path: dev.path, created: dev.created } };
}

/**
 * Rows from before the skeleton columns get theirs (see username-skeleton-backfill.ts). A failure
 * does not stop the start: new accounts are still checked against every filled skeleton.
 */
async function fillUsernameSkeletons(database: Database, events: ServiceEventSink): Promise<void> {
  try {
    const { filled, collisions } = await backfillUsernameSkeletons(database.db);
    if (filled > 0) events.emit({ event: 'users.skeletons_filled', level: 'info', filled });
    if (collisions > 0) events.emit({ event: 'users.lookalike_accounts', level: 'warn', collisions });
  } catch (error) {
    events.emit({ event: 'users.skeleton_backfill_failed', level: 'warn', error });
  }
}

/** The file's resources and the host's, checked together (an identifier registered in both is a duplicate). */
async function loadResources(config: Config, scopes: ScopeCatalogue, extra: readonly ResourceServer[] = []): Promise<ResourceRegistry> {
  const fromFile = config.resourcesPath === undefined ? [] : await readResourceFile(config.resourcesPath, scopes, config.audience);
  return createResourceRegistry([...fromFile, ...extra], scopes, config.audience);
}

export async function createServices(config: Config, overrides: ServiceOverrides = {}): Promise<GatehouseServices> {
  // Its signing settings were never required (a command that signs nothing): reading them now could
  // generate development keys or a development KEK in production.
  if (config.needs === 'database' && overrides.signingKeys === undefined) {
    throw new TypeError("createServices: a configuration loaded with needs: 'database' takes overrides.signingKeys");
  }
  // Before anything is opened: production without a pepper, or a bad resource file, stops startup with nothing to close.
  const peppers = await resolveApiKeyPeppers(config);
  const scopes = createScopeCatalogue(extraScopes(overrides.scopes));
  const resources = await loadResources(config, scopes, overrides.resources);
  // Keys given in code or in GATEHOUSE_SIGNING_KEYS as before; the store only when asked for (opened below, with the stores).
  const useStore = overrides.signingKeys === undefined && config.signingKeySource === 'store';
  const fileKeys = useStore
    ? undefined
    : overrides.signingKeys === undefined
      ? await loadKeys(config)
      : { keys: [...overrides.signingKeys], source: { kind: 'file' as const, path: '(given in code)', created: false } };
  const fileKeySet = fileKeys === undefined ? undefined : await createKeySet(fileKeys.keys);
  let storedKeys: StoredKeys | undefined;
  // A function, not a value: stored keys are swapped whole when the table changes.
  const currentKeys = (): KeySet => storedKeys?.live.current() ?? (fileKeySet as KeySet);
  const events = createServiceEventSink();
  const keyCreation = (fileKeys?.keys ?? []).map((k) => ({ kid: k.kid, createdAtMs: jwkCreatedAtMs(k) }));
  const metrics = createGatehouseMetrics({
    revocationState: () => revocations.state(),
    signingKeys: () => storedKeys?.live.keys() ?? keyCreation,
    now: Date.now,
  });
  const database = await openDatabase(config.database, {
    statementTimeoutMs: config.databaseStatementTimeoutMs,
    namedStatements: config.databaseNamedStatements,
    onError: (error) => {
      if (overrides.onStoreError !== undefined) overrides.onStoreError(error);
      else events.emit({ event: 'database.connection_error', level: 'warn', error });
    },
  });
  await fillUsernameSkeletons(database, events);
  let ephemeral: EphemeralStore;
  try {
    ephemeral = await openEphemeralStore(
      { redisUrl: config.redisUrl, redisSentinel: config.redisSentinel, redisKeyPrefix: config.redisKeyPrefix },
      { onConnectionError: (reason) => events.emit({ event: 'redis.connection_error', level: 'warn', reason }) },
    );
    if (ephemeral.kind === 'redis') ephemeral = timedEphemeralStore(ephemeral, (seconds) => metrics.storeQuery('ephemeral', seconds));
  } catch (error) {
    await database.close();
    throw error;
  }
  const now = overrides.now ?? Date.now;
  if (useStore) {
    try {
      storedKeys = await startStoredKeys({
        config,
        store: createDrizzleSigningKeyStore(database.db),
        feed: ephemeral,
        now,
        ...(overrides.keyPollIntervalMs === undefined ? {} : { pollIntervalMs: overrides.keyPollIntervalMs }),
        // A revoked key's tokens must stop verifying now, not when their cached verification expires.
        onKeysRemoved: () => verifier.clearCache(),
        // Unconfirmed keys refuse to sign or verify (503); cached verifications go with them.
        onStale: () => verifier.clearCache(),
        // Resource servers subscribed to the revocation feed drop the key at once too.
        onRevoked: (kid) => revocations.announceSigningKeyRevoked(kid, new Date(now())),
        onEvent: (e) => events.emit({ ...e, level: e.event === 'keys.changed' ? 'info' : 'warn' }),
      });
    } catch (error) {
      await Promise.allSettled([ephemeral.close(), database.close()]);
      throw error;
    }
  }
  const factorStore = createDrizzleFactorStore(database.db);
  const factorKek = lazyFactorKek(config);
  try {
    // Like stored keys: a server that could not open its users' TOTP secrets does not start.
    if (config.needs === 'server') await assertSealedFactorsOpen(factorStore, factorKek);
  } catch (error) {
    await storedKeys?.close();
    await Promise.allSettled([ephemeral.close(), database.close()]);
    throw error;
  }
  const uncachedUsers = createDrizzleUserStore(database.db);
  const cachedUsers = createCachedUserStore(uncachedUsers, overrides.now === undefined ? {} : { now: overrides.now });
  const rawSessions = createDrizzleSessionStore(database.db);
  // One per instance, shared by every route that hands out refresh tokens and by the refresh limit.
  const issuedRefreshTokens = createRefreshTokenFactsCache({ now });
  const revocationStore = createDrizzleRevocationStore(database.db);
  let revocations: Revocations;
  try {
    revocations = await startRevocations({
      store: revocationStore,
      sessions: rawSessions,
      users: cachedUsers,
      // A user written in a unit leaves the cache once the unit is over, committed or not.
      unitOfWork: createDrizzleUnitOfWork(database.db, { onUserWritten: (id) => cachedUsers.invalidate(id) }),
      feed: ephemeral,
      channel: 'revocations',
      accessTokenTtlMs: config.accessTokenTtlSeconds * 1000,
      now,
      ...(overrides.revocationStaleAfterMs === undefined ? {} : { staleAfterMs: overrides.revocationStaleAfterMs }),
      onEvent: (e) => events.emit({ ...e, level: e.event === 'revocation.state_current' ? 'info' : 'warn' }),
      onEntry: (entry) => {
        if (entry.kind === 'user') cachedUsers.invalidate(entry.id);
      },
      onRevoked: (kind) => {
        if (kind !== 'key') metrics.revoked(kind);
      },
    });
  } catch (error) {
    await storedKeys?.close();
    await Promise.allSettled([ephemeral.close(), database.close()]);
    throw error;
  }
  const users = propagatingUserStore(cachedUsers, revocations);
  const housekeeping = startHousekeeping({
    purge: () =>
      purgeExpired(database.db, new Date(now()), {
        accessTokenTtlMs: config.accessTokenTtlSeconds * 1000,
        graceMs: config.refreshGraceSeconds * 1000,
        auditRetentionMs: config.auditRetentionDays * 86_400_000,
      }),
    intervalMs: overrides.housekeepingIntervalMs ?? 10 * 60_000,
    onResult: (counts) => {
      if (Object.values(counts).some((n) => n > 0)) events.emit({ event: 'housekeeping.purged', level: 'info', ...counts });
    },
    onError: (error) => events.emit({ event: 'housekeeping.failed', level: 'warn', error }),
  });
  const audiencesIssued = [...config.audience, ...resources.all.map((r) => r.identifier)];
  const issuedTokenVerifier = createAccessTokenVerifier({
    issuer: config.issuer,
    audience: audiencesIssued,
    keys: currentKeys,
    maxLifetimeSeconds: config.accessTokenTtlSeconds,
    ...(overrides.now === undefined ? {} : { now: overrides.now }),
  });
  // No resource registered: the one verifier, exactly as before resource indicators.
  const verifier = resources.all.length === 0 ? issuedTokenVerifier : restrictAudience(issuedTokenVerifier, config.audience);
  const authenticatorFor = (audiences: readonly string[]): Authenticator => {
    const foreign = audiences.find((a) => !audiencesIssued.includes(a));
    if (foreign !== undefined) throw new TypeError(`audience ${JSON.stringify(foreign)} is neither GATEHOUSE_AUDIENCE nor a registered resource`);
    if (audiences.length === 0) throw new TypeError('audiences must name at least one audience');
    return createAuthenticator({ verifier: restrictAudience(issuedTokenVerifier, audiences), revocations, users });
  };
  const issuer = createAccessTokenIssuer({
    issuer: config.issuer,
    audience: config.audience[0],
    keySet: currentKeys,
    ttlSeconds: config.accessTokenTtlSeconds,
    ...(overrides.now === undefined ? {} : { now: overrides.now }),
  });
  const throttle = createThrottle({
    limits: config.limits,
    // The in-process ephemeral store carries pub/sub only: counters get their own bounded stores.
    shared: ephemeral.kind === 'redis' ? ephemeral : undefined,
    ...(overrides.throttleCapacity === undefined ? {} : { localCapacity: overrides.throttleCapacity }),
    // The tokens this instance issued are counted without a read before the rotation (the refresh limit is on by default).
    sessionIdOfRefreshDigest: (digest) => sessionIdOfRefreshDigest({ sessions: rawSessions, issuedTokens: issuedRefreshTokens }, digest),
    onStoreError: (error) => events.emit({ event: 'throttle.store_unavailable', level: 'warn', error }),
  });
  const tenants = createDrizzleTenantStore(database.db);
  const audit = createDrizzleAuditLog(database.db);
  const apiKeys = createApiKeys({
    store: createDrizzleApiKeyStore(database.db),
    peppers,
    users,
    tenants,
    scopes,
    revocations,
    audit,
    accessTokenTtlMs: config.accessTokenTtlSeconds * 1000,
    now,
    announceChanged: (keyId) => ephemeral.publish(API_KEY_CHANNEL, keyId),
    onEvent: (e) => events.emit({ ...e, level: 'warn' }),
  });
  let apiKeyChanges: Subscription;
  try {
    // A message lost while unsubscribed may have been a change: every cached row goes.
    apiKeyChanges = await ephemeral.subscribe(API_KEY_CHANNEL, { onMessage: (keyId) => apiKeys.forget(keyId), onResubscribed: () => apiKeys.forgetAll() });
  } catch (error) {
    await housekeeping.stop();
    await storedKeys?.close();
    await revocations.close();
    await Promise.allSettled([ephemeral.close(), database.close(), throttle.close()]);
    throw error;
  }
  const mailer = openMailer(config, ({ file, to, subject }) =>
    // Where and to whom: the file holds the mail, its code included, and only the file does.
    events.emit({ event: 'mail.outbox_written', level: 'info', file, to, subject }),
  );
  const backgroundWork = createBackgroundWork({
    onFailed: (job, error) => events.emit({ event: 'background.job_failed', level: 'warn', job, error }),
    onDropped: (job) => events.emit({ event: 'background.job_dropped', level: 'warn', job }),
  });
  const detachQueryObserver = observeQueries((seconds) => metrics.storeQuery('database', seconds));
  const hasher = new PasswordHasher(overrides.passwordHasher);
  const sessionPolicy: SessionPolicy = {
    absoluteTtlMs: config.sessionTtlSeconds * 1000,
    idleTtlMs: config.sessionIdleTtlSeconds * 1000,
    graceMs: config.refreshGraceSeconds * 1000,
  };
  const factors: FactorDeps = { store: factorStore, kek: factorKek, throttle: throttle.secondFactor, issuer: config.issuer, now };
  const mfaSignIn = createMfaSignIn({
    challenges: createMfaChallenges({ store: ephemeral, now }),
    factors: factorStore,
    secondFactor: secondFactorDepsOf(factors),
    // Past the cache: the password hash and token version bound to the challenge are compared as they are now.
    users: uncachedUsers,
    recordAudit: (record) => audit.record(record),
    now,
  });
  const browserSessions = createBrowserSessions({
    sessions: rawSessions,
    revocations,
    users,
    tenants,
    scopes,
    verifyPassword: (username, password) =>
      verifyPasswordLogin(
        {
          users,
          hasher,
          requireVerifiedEmail: config.emailVerification === 'required',
          onRehashFailed: (error) => events.emit({ event: 'users.rehash_failed', level: 'warn', error }),
        },
        username,
        password,
      ),
    challengeSecondFactor: async (user, tenant, context) => {
      const step = { clientId: BROWSER_CLIENT_ID, requestedScopes: null, tenant: tenant ?? null, resource: null, yields: 'cookie' } as const;
      const challenge = await mfaSignIn.challengeIfRequired(user, step, context);
      if (challenge !== undefined) throw challenge;
    },
    recordAudit: (record) => audit.record(record),
    policy: sessionPolicy,
    clientId: BROWSER_CLIENT_ID,
    accessTokenTtlMs: config.accessTokenTtlSeconds * 1000,
    now,
    events,
  });
  const passkeys = createPasskeys({
    store: createDrizzlePasskeyStore(database.db),
    ephemeral,
    // Past the cache: a sign-in decides on the account as the database holds it now.
    users: uncachedUsers,
    issuer: config.issuer,
    requireVerifiedEmail: config.emailVerification === 'required',
    now,
  });
  const services: GatehouseServices = {
    config,
    database,
    ephemeral,
    users,
    uncachedUsers,
    tenants,
    sessions: propagatingSessionStore(rawSessions, revocations),
    sessionPolicy,
    browserSessions,
    wsTickets: createWsTickets({ store: ephemeral, revocations, users, sessions: rawSessions, now }),
    now,
    hasher,
    keySet: currentKeys,
    clients: createClientRegistry([...BUILT_IN_CLIENTS, ...(overrides.clients ?? [])]),
    scopes,
    resources,
    verifier,
    issuedTokenVerifier,
    authenticator: createAuthenticator({ verifier, revocations, users }),
    authenticatorFor,
    revocations,
    apiKeys,
    revocationPages: createRevocationPages({ store: revocationStore, accessTokenTtlMs: config.accessTokenTtlSeconds * 1000, now }),
    audit,
    userDirectory: createDrizzleUserDirectory(database.db),
    housekeeping,
    events,
    metrics,
    throttle,
    mailer,
    emailCodes: createDrizzleEmailCodeStore(database.db),
    backgroundWork,
    passkeys,
    // A passkey or a confirmed TOTP factor: either makes a factor change ask for a two-factor sign-in.
    secondFactors: {
      enrolled: async (userId) => (await passkeys.hasPasskey(userId)) || (await factorStore.hasConfirmed(userId)),
    },
    factors,
    mfaSignIn,
    issueAccessToken: (input) => issuer.issue(input),
    prepareAccessToken: () => issuer.prepare(),
    tokenRequestDeps: (hooks) => tokenRequestDeps(services, hooks, issuedRefreshTokens),
    keySource: fileKeys?.source ?? { kind: 'store', path: 'signing_keys', created: false },
    storedKeys,
    async close() {
      detachQueryObserver();
      // Jobs in flight still write to the database and mail: they end before either closes.
      await backgroundWork.settled();
      await housekeeping.stop();
      await storedKeys?.close();
      await revocations.close();
      await apiKeyChanges.close();
      await Promise.allSettled([ephemeral.close(), database.close(), throttle.close(), mailer.close()]);
    },
  };
  return services;
}

function tokenRequestDeps(services: GatehouseServices, hooks: TokenRequestHooks, issuedTokens: RefreshTokenFactsCache): TokenRequestDeps {
  const families: RefreshFamilyDeps = {
    sessions: services.sessions,
    policy: services.sessionPolicy,
    now: services.now,
    onSecurityEvent: hooks.onSecurityEvent,
    issuedTokens,
  };
  return {
    clients: services.clients,
    scopes: services.scopes,
    resources: services.resources,
    verifyPassword: (username, password) =>
      verifyPasswordLogin(
        {
          users: services.users,
          hasher: services.hasher,
          requireVerifiedEmail: services.config.emailVerification === 'required',
          onRehashFailed: hooks.onRehashFailed,
        },
        username,
        password,
      ),
    findUser: (id) => services.users.findById(id),
    membershipsOfUser: (userId) => services.tenants.membershipsOfUser(userId),
    tenantRolesOf: async (tenantId, userId) => (await services.tenants.membership(tenantId, userId))?.roles,
    startSession: (input, audit) => startSession(families, input, audit),
    exchangeRefreshToken: (token, clientId, scopes, audit, resource) => exchangeRefreshToken(families, token, clientId, scopes, audit, resource),
    sessionOfRefreshToken: (token) => sessionOfRefreshToken(families, token),
    mfa: services.mfaSignIn,
    recordAudit: (record) => services.audit.record(record),
    authenticateApiKey: (key, audit) => services.apiKeys.authenticate(key, audit),
    apiKeyLimit: (keyId) => services.throttle.requests.apiKey(keyId),
    now: services.now,
    issueAccessToken: (input) => services.issueAccessToken(input),
    prepareAccessToken: () => services.prepareAccessToken(),
  };
}
