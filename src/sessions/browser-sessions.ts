import { randomUUID, timingSafeEqual } from 'node:crypto';
import { auditRecord, type AuditContext, type AuditRecord } from '../audit/audit-event.js';
import { InvalidRequestError, InvalidTokenError, LoginRefusedError } from '../errors/errors.js';
import type { SessionPrincipal } from '../guard/principal.js';
import { principalUserOf } from '../guard/principal.js';
import type { ServiceEventSink } from '../observability/service-events.js';
import type { ScopeCatalogue } from '../oauth/scope-catalogue.js';
import type { Revocations } from '../revocation/revocations.js';
import { membershipsAtSignIn, selectTenant } from '../tenants/tenant-selection.js';
import type { TenantStore } from '../tenants/tenant-store.js';
import type { UserRecord, UserStore } from '../users/user-store.js';
import type { SessionPolicy } from './refresh-families.js';
import { generateSessionCookie, parseSessionCookieValue, sessionSecretMatches } from './session-cookie.js';
import { authenticationColumns, authenticationOf, type CookieSessionRecord, type SessionRecord, type SessionStore } from './session-store.js';

export interface BrowserSessions {
  /** Password sign-in → a new cookie session (new id every time; the cookie session presented, if any, is ended). Same refusals as the password grant (InvalidGrantError, no account oracle). */
  signIn(input: SignInInput): Promise<SignedIn>;
  /**
   * The same sign-in proved otherwise than by a password alone (a passkey, a second factor):
   * `authenticate` yields the user or throws LoginRefusedError, which is audited and answered as a
   * wrong password; `methods` are what the session records as how the user authenticated (RFC 8176).
   */
  signInProven(input: ProvenSignInInput): Promise<SignedIn>;
  /**
   * `afresh`: past the row cache, for a step-up the cached row may not know of yet (made on another instance).
   * Cookie value → principal, or InvalidTokenError (ended, expired, forged, wrong secret, user disabled/locked/deleted/token version moved). StoreUnavailableError when revocation state is not current. */
  authenticate(cookieValue: string, options?: { readonly afresh?: boolean }): Promise<SessionPrincipal>;
  /** Ends the session of this cookie (idempotent; unknown/forged → no-op). */
  signOut(cookieValue: string, audit: AuditContext): Promise<void>;
}

export interface SignInInput {
  readonly username: string;
  readonly password: string;
  readonly tenant?: string | undefined;
  readonly device: string;
  readonly ip: string | null;
  /** The session cookie the browser sent with the sign-in, if any: it ends (session fixation). */
  readonly presentedCookie?: string | undefined;
  readonly audit: AuditContext;
}

export interface SignedIn {
  readonly cookieValue: string;
  readonly session: SessionRecord;
  readonly maxAgeSeconds: number;
}

export interface ProvenSignInInput extends Omit<SignInInput, 'username' | 'password'> {
  readonly authenticate: () => Promise<UserRecord>;
  readonly methods: readonly string[];
  /** After the user and tenant are known: throws (MfaRequiredError) when a second factor must be presented too. */
  readonly secondFactor?: (user: UserRecord) => Promise<void>;
}

export interface BrowserSessionDeps {
  /** The raw store's reads and writes; revocations go through `revocations`, so they propagate. */
  readonly sessions: Pick<SessionStore, 'createCookieSession' | 'findCookieSession' | 'touchIdle'>;
  readonly revocations: Pick<Revocations, 'assertNotRevoked' | 'revokeSession'>;
  readonly users: Pick<UserStore, 'findById'>;
  readonly tenants: Pick<TenantStore, 'membershipsOfUser' | 'membership'>;
  readonly scopes: Pick<ScopeCatalogue, 'scopesForRoles'>;
  /** users/password-login.ts, as the password grant uses it (same refusals, dummy hash for unknown users). */
  readonly verifyPassword: (username: string, password: string) => Promise<UserRecord>;
  /**
   * After a right password, the user and tenant known: throws MfaRequiredError (a challenge, no
   * session) for a user with a second factor (src/factors/mfa-sign-in.ts); resolves otherwise.
   */
  readonly challengeSecondFactor: (user: UserRecord, tenant: string | undefined, audit: AuditContext) => Promise<void>;
  /** Failed sign-ins change nothing, so their audit rows are written on their own. */
  readonly recordAudit: (record: AuditRecord) => Promise<void>;
  readonly policy: Pick<SessionPolicy, 'absoluteTtlMs' | 'idleTtlMs'>;
  /** The client id the sessions are recorded under (clients.ts `BROWSER_CLIENT_ID`). */
  readonly clientId: string;
  /** Bounds the row cache (see {@link createBrowserSessions}). */
  readonly accessTokenTtlMs: number;
  readonly now: () => number;
  readonly events: Pick<ServiceEventSink, 'emit'>;
  /** Session rows kept in memory at most (default 10 000). */
  readonly cacheCapacity?: number;
}

/** Idle renewal is written at most this often per session (and at least twice per idle window). */
const RENEW_EVERY_MS = 5 * 60_000;
const ROW_CACHE_MAX_MS = 60_000;

interface CachedSession {
  readonly session: CookieSessionRecord;
  /** The roles held in the session's tenant; empty for a session bound to no tenant. */
  readonly tenantRoles: readonly string[];
  readonly loadedAt: number;
  /**
   * The principal last built from this row and `user` (the user store's record, the very object):
   * it is a function of the two, so while both are the same objects it is reused, not rebuilt.
   */
  built?: { readonly user: UserRecord; readonly principal: SessionPrincipal };
  /**
   * The secret that matched this row's digest, so the row's later requests compare bytes in
   * constant time instead of hashing again. It lives only in this process, as long as the row
   * (at most `cacheMs`); the store still holds the digest alone.
   */
  matchedSecret?: Buffer;
}

/**
 * Browser sign-in, cookie authentication and sign-out over cookie sessions (rows of the sessions
 * table of kind `cookie`, so every revocation path that ends sessions ends them too).
 *
 * The principal's scopes are the session's, granted at sign-in like a password login of the
 * default client that names no scope; its roles are the user's global roles and the session
 * tenant's roles as held now (read with the row). Both can only be wider than at sign-in by a
 * grant since: every revocation of a role, global or in a tenant, and leaving the tenant move the
 * user's token version on, and that ends the session.
 */
export function createBrowserSessions(deps: BrowserSessionDeps): BrowserSessions {
  const capacity = deps.cacheCapacity ?? 10_000;
  const renewEveryMs = Math.min(RENEW_EVERY_MS, Math.floor(deps.policy.idleTtlMs / 2));
  /**
   * Session rows (with their tenant roles) served from memory for at most min(60 s, the
   * access-token TTL). Safe against revocation because `assertNotRevoked` is asked on every
   * request with the session's id as `sid` and its token version as `tver`: a session revoked
   * anywhere (logout, logout-all, admin, lock, disable, deletion, password change — all through
   * `Revocations`) enters the in-process list on every instance and stays there one access-token
   * lifetime, and a token-version bump likewise. A row cached before the revocation is younger
   * than that lifetime, so the list still holds the entry whenever the row is served; a row read
   * after it carries `revoked_at` itself. When the list is not current (the feed is down) the
   * check fails closed, cached row or not.
   */
  const cacheMs = Math.min(ROW_CACHE_MAX_MS, deps.accessTokenTtlMs);
  const cache = new Map<string, CachedSession>();
  const renewing = new Map<string, Promise<boolean>>();

  const remember = (entry: CachedSession): void => {
    cache.delete(entry.session.id);
    if (cache.size >= capacity) {
      // Maps iterate in insertion order: the oldest entry goes.
      const oldest = cache.keys().next();
      if (oldest.done !== true) cache.delete(oldest.value);
    }
    cache.set(entry.session.id, entry);
  };

  const load = async (sessionId: string): Promise<CachedSession | undefined> => {
    const session = await deps.sessions.findCookieSession(sessionId);
    if (session === undefined) return undefined;
    const tenantRoles = session.tenantId === null ? [] : (await deps.tenants.membership(session.tenantId, session.userId))?.roles;
    if (tenantRoles === undefined) throw new InvalidTokenError('no longer a member of the session tenant');
    const entry: CachedSession = { session, tenantRoles, loadedAt: deps.now() };
    remember(entry);
    return entry;
  };

  const cached = (sessionId: string, now: number): CachedSession | undefined => {
    const entry = cache.get(sessionId);
    if (entry === undefined) return undefined;
    if (now - entry.loadedAt < cacheMs && now >= entry.loadedAt) return entry;
    cache.delete(sessionId);
    return undefined;
  };

  const revokedReason = (session: SessionRecord, now: number): string | undefined => {
    if (session.revokedAt !== null) return `revoked (${session.revokedReason ?? 'unknown'})`;
    if (session.expiresAt.getTime() <= now) return 'past its absolute expiry';
    if (session.idleExpiresAt.getTime() <= now) return 'past its idle expiry';
    return undefined;
  };

  /** The presented secret against the row: the digest once per cached row, then the bytes that matched it. */
  const secretMatches = (entry: CachedSession, secret: string): boolean => {
    // Shape-checked base64url (parseSessionCookieValue): ASCII, always 43 bytes.
    const presented = Buffer.from(secret, 'latin1');
    const known = entry.matchedSecret;
    if (known !== undefined) return presented.length === known.length && timingSafeEqual(presented, known);
    if (!sessionSecretMatches(secret, entry.session.secretDigest)) return false;
    entry.matchedSecret = presented;
    return true;
  };

  /** The live session of this cookie with its tenant roles; InvalidTokenError naming the failed check. */
  const liveSession = async (cookieValue: string, now: number): Promise<CachedSession> => {
    const parsed = parseSessionCookieValue(cookieValue);
    if (parsed === undefined) throw new InvalidTokenError('malformed cookie value');
    let entry = cached(parsed.sessionId, now);
    const fromCache = entry !== undefined;
    entry ??= await load(parsed.sessionId);
    if (entry === undefined) throw new InvalidTokenError('unknown session');
    const { session } = entry;
    if (!secretMatches(entry, parsed.secret)) throw new InvalidTokenError('wrong secret');
    // Every request, cached row or not (see `cacheMs`). The jti is no token's: access-token jtis are UUIDs.
    deps.revocations.assertNotRevoked({ jti: `cookie-session:${session.id}`, sid: session.id, sub: session.userId, tver: session.tokenVersion });
    let dead = revokedReason(session, now);
    if (dead !== undefined && fromCache) {
      // Another instance may have renewed the idle window since this row was read.
      cache.delete(session.id);
      entry = await load(session.id);
      if (entry === undefined) throw new InvalidTokenError('unknown session');
      dead = revokedReason(entry.session, now);
    }
    if (dead !== undefined) throw new InvalidTokenError(dead);
    return entry;
  };

  /** Writes the idle renewal at most every `renewEveryMs` per session; concurrent requests share one write. */
  const renewIdle = async (entry: CachedSession, now: number): Promise<void> => {
    const { session } = entry;
    if (now - session.lastUsedAt.getTime() < renewEveryMs) return;
    let pending = renewing.get(session.id);
    if (pending === undefined) {
      pending = (async () => {
        try {
          return await deps.sessions.touchIdle(session.id, new Date(now), new Date(now + deps.policy.idleTtlMs));
        } finally {
          renewing.delete(session.id);
        }
      })();
      renewing.set(session.id, pending);
    }
    let touched: boolean;
    try {
      touched = await pending;
    } catch (error) {
      // The session is live (just checked); a failed renewal costs only idle time, and the next
      // request tries again. It is reported, never dropped silently.
      deps.events.emit({ event: 'sessions.idle_renewal_failed', level: 'warn', error, session_id: session.id });
      return;
    }
    if (!touched) {
      cache.delete(session.id);
      throw new InvalidTokenError('revoked before its idle renewal');
    }
    const idleExpiresAt = new Date(Math.min(now + deps.policy.idleTtlMs, session.expiresAt.getTime()));
    remember({ ...entry, session: { ...session, lastUsedAt: new Date(now), idleExpiresAt } });
  };

  /** The session of `cookieValue` if its secret matches (never a session named by id alone). */
  const ownSession = async (cookieValue: string): Promise<CookieSessionRecord | undefined> => {
    const parsed = parseSessionCookieValue(cookieValue);
    if (parsed === undefined) return undefined;
    const session = await deps.sessions.findCookieSession(parsed.sessionId);
    if (session === undefined || !sessionSecretMatches(parsed.secret, session.secretDigest)) return undefined;
    return session;
  };

  const end = async (cookieValue: string, reason: 'sign_out' | 'replaced_at_sign_in', audit: AuditContext, now: Date): Promise<void> => {
    const session = await ownSession(cookieValue);
    if (session === undefined || session.revokedAt !== null) return;
    cache.delete(session.id);
    const record = auditRecord(
      audit,
      { event: 'session.ended', outcome: 'success', reason, actorId: session.userId, subjectId: session.userId, sessionId: session.id },
      now,
    );
    await deps.revocations.revokeSession(session.id, reason, now, [record]);
  };

  const browserSessions: BrowserSessions = {
    signIn: ({ username, password, ...rest }) =>
      browserSessions.signInProven({
        ...rest,
        methods: ['pwd'],
        authenticate: () => deps.verifyPassword(username, password),
        secondFactor: (user) => deps.challengeSecondFactor(user, rest.tenant, rest.audit),
      }),

    async signInProven(input) {
      const { tenant } = input;
      if (tenant !== undefined && (tenant.length === 0 || tenant.length > 64)) throw new InvalidRequestError('malformed tenant parameter');
      let user: UserRecord;
      let tenantRoles: readonly string[];
      let tenantId: string | null;
      try {
        user = await input.authenticate();
        const membership = selectTenant(await membershipsAtSignIn(user, (id) => deps.tenants.membershipsOfUser(id)), tenant, user.id);
        tenantRoles = membership?.roles ?? [];
        tenantId = membership?.tenant.id ?? null;
        await input.secondFactor?.(user);
      } catch (error) {
        if (error instanceof LoginRefusedError) {
          // Never the attempted username: people type passwords into that field.
          const fields = { event: 'login.failed', outcome: 'failure', reason: error.reason, subjectId: error.subjectId } as const;
          await deps.recordAudit(auditRecord(input.audit, fields, new Date(deps.now())));
        }
        throw error;
      }
      const now = new Date(deps.now());
      // Session fixation: whatever session the browser came with ends; the new one has a new id.
      if (input.presentedCookie !== undefined) await end(input.presentedCookie, 'replaced_at_sign_in', input.audit, now);
      const id = randomUUID();
      const cookie = generateSessionCookie(id);
      const scope = [...deps.scopes.scopesForRoles(user.roles, tenantRoles)].join(' ');
      const session = await deps.sessions.createCookieSession(
        {
          id,
          userId: user.id,
          clientId: deps.clientId,
          tenantId,
          scope,
          device: input.device,
          ip: input.ip,
          createdAt: now,
          lastUsedAt: now,
          expiresAt: new Date(now.getTime() + deps.policy.absoluteTtlMs),
          idleExpiresAt: new Date(now.getTime() + Math.min(deps.policy.idleTtlMs, deps.policy.absoluteTtlMs)),
          ...authenticationColumns({ methods: input.methods, time: Math.floor(now.getTime() / 1000) }),
        },
        cookie.secretDigest,
        // The version read with the password: a bump racing this sign-in ends the new session at once.
        user.tokenVersion,
        [
          auditRecord(
            input.audit,
            { event: 'session.created', outcome: 'success', reason: 'cookie', actorId: user.id, subjectId: user.id, sessionId: id },
            now,
          ),
        ],
      );
      return { cookieValue: cookie.value, session, maxAgeSeconds: Math.floor(deps.policy.absoluteTtlMs / 1000) };
    },

    async authenticate(cookieValue, options) {
      const now = deps.now();
      if (options?.afresh === true) {
        const parsed = parseSessionCookieValue(cookieValue);
        if (parsed !== undefined) cache.delete(parsed.sessionId);
      }
      const entry = await liveSession(cookieValue, now);
      const { session } = entry;
      const user = await deps.users.findById(session.userId);
      if (user === undefined) throw new InvalidTokenError('subject no longer exists');
      if (user.disabledAt !== null) throw new InvalidTokenError('subject is disabled');
      if (user.lockedAt !== null) throw new InvalidTokenError('subject is locked');
      if (session.tokenVersion < user.tokenVersion) throw new InvalidTokenError('token version moved past the session');
      await renewIdle(entry, now);
      if (entry.built?.user === user) return entry.built.principal;
      const principal: SessionPrincipal = Object.freeze({
        via: 'session',
        subject: session.userId,
        scopes: new Set(session.scope.split(' ').filter((s) => s.length > 0)),
        roles: Object.freeze([...user.roles, ...entry.tenantRoles]),
        ...(session.tenantId === null ? {} : { tenantId: session.tenantId }),
        sessionId: session.id,
        clientId: session.clientId,
        tokenVersion: session.tokenVersion,
        user: principalUserOf(user),
        expiresAt: Math.floor(session.expiresAt.getTime() / 1000),
        authentication: authenticationOf(session),
      });
      entry.built = { user, principal };
      return principal;
    },

    async signOut(cookieValue, audit) {
      await end(cookieValue, 'sign_out', audit, new Date(deps.now()));
    },
  };
  return browserSessions;
}
