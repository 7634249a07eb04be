import type { Authentication } from '@gatehouse/verify/internal';
import type { AuditRecord } from '../audit/audit-event.js';

/** `refresh`: a refresh-token family (OAuth clients); `cookie`: a browser session (no refresh tokens). */
export type SessionKind = 'refresh' | 'cookie';

export interface SessionRecord {
  readonly id: string;
  readonly kind: SessionKind;
  readonly userId: string;
  readonly clientId: string;
  /** The tenant chosen at login (the tokens' `tid`); null for a session bound to no tenant. */
  readonly tenantId: string | null;
  readonly scope: string;
  /** RFC 8707: the resource server chosen at login (every access token's `aud`); null: the default audience. */
  readonly resource: string | null;
  readonly device: string;
  readonly ip: string | null;
  readonly createdAt: Date;
  readonly lastUsedAt: Date;
  readonly expiresAt: Date;
  readonly idleExpiresAt: Date;
  readonly revokedAt: Date | null;
  readonly revokedReason: string | null;
  /** RFC 8176 methods the user proved for this session (its tokens' `amr`). */
  readonly authMethods: readonly string[];
  /** When (`auth_time`): the sign-in, or the last step-up within the session. */
  readonly authTime: Date;
}

/** A session's authentication facts as tokens and principals carry them. */
export function authenticationOf(session: Pick<SessionRecord, 'authMethods' | 'authTime'>): Authentication {
  return { methods: session.authMethods, time: Math.floor(session.authTime.getTime() / 1000) };
}

/** The columns that record `authentication`, for a new session or a step-up. */
export function authenticationColumns(authentication: Authentication): { authMethods: string[]; authTime: Date } {
  return { authMethods: [...authentication.methods], authTime: new Date(authentication.time * 1000) };
}

export type NewSession = Omit<SessionRecord, 'revokedAt' | 'revokedReason' | 'resource' | 'kind'> & { readonly resource?: string | null };

/** A cookie session with what only its authentication reads: never handed on as a plain SessionRecord. */
export interface CookieSessionRecord extends SessionRecord {
  readonly kind: 'cookie';
  /** SHA-256 (hex) of the cookie's secret. */
  readonly secretDigest: string;
  /** The user's token version at sign-in: the session dies once the user's moves past it. */
  readonly tokenVersion: number;
}

export type RotationOutcome =
  /** The token was live and is now spent; `next` is stored as its successor. */
  | { readonly kind: 'rotated'; readonly session: SessionRecord; readonly generation: number }
  /** The token exists but was already spent: the family is compromised. */
  | { readonly kind: 'reused'; readonly session: SessionRecord }
  /**
   * Grace window only: the token was spent by this same client within the window, its session is
   * live and its successor still unspent. `sealedSuccessor` opens with the presented token only;
   * `successorDigest` lets the caller check what it opened. Nothing changed.
   */
  | { readonly kind: 'replayed'; readonly session: SessionRecord; readonly sealedSuccessor: string; readonly successorDigest: string }
  /** The token's session may not be refreshed (revoked, expired, other client). Nothing changed. */
  | { readonly kind: 'refused'; readonly session: SessionRecord; readonly reason: string }
  /** The request asked for scopes the session does not hold. Nothing changed. */
  | { readonly kind: 'scope_exceeded'; readonly session: SessionRecord }
  /** The request named a resource other than the session's (RFC 8707). Nothing changed. */
  | { readonly kind: 'target_mismatch'; readonly session: SessionRecord }
  | { readonly kind: 'unknown' };

export interface RotationRequest {
  readonly digest: string;
  readonly nextDigest: string;
  readonly clientId: string;
  /** Scopes the refresh asks for; each must be in the session's scope. Empty: no narrowing asked. */
  readonly requestedScopes: readonly string[];
  /**
   * The resource the refresh names (RFC 8707): it must be the session's (null: the default
   * audience). Undefined: none named, the session's stands.
   */
  readonly resource?: string | null;
  readonly now: Date;
  readonly idleTtlMs: number;
  /**
   * The opt-in grace window; absent means strict (every repeat of a spent token is `reused`). The
   * spent row keeps `sealedSuccessor` (the successor sealed under the presented token), and a
   * repeat by the same client within `windowMs` of the spend is `replayed` instead of `reused`.
   */
  readonly grace?: { readonly windowMs: number; readonly sealedSuccessor: string };
  /** Written with the rotation, only if it rotates; its subject and session are the rotated session's. */
  readonly audit?: AuditRecord;
}

/**
 * Storage contract for sessions and their refresh tokens. `rotate` is atomic: of N concurrent
 * rotations of one token exactly one returns `rotated`; the others return `reused` (or, with a
 * grace window, `replayed`, which points at that same successor). It never produces two
 * successors of one token.
 */
export interface SessionStore {
  /** Creates the session and its first refresh token (generation 0) together. */
  create(session: NewSession, firstDigest: string, audit?: readonly AuditRecord[]): Promise<SessionRecord>;
  /** Creates a cookie session (kind `cookie`, no refresh token) with the audit rows, in one transaction. */
  createCookieSession(session: NewSession, secretDigest: string, tokenVersion: number, audit?: readonly AuditRecord[]): Promise<SessionRecord>;
  /** The cookie session of this id, live or not; undefined for an unknown id, a malformed one or a refresh session. */
  findCookieSession(sessionId: string): Promise<CookieSessionRecord | undefined>;
  /**
   * Moves the idle expiry to `idleExpiresAt` (never past the absolute expiry) and `last_used_at`
   * to `now`, only while the session is not revoked. False: nothing changed.
   */
  touchIdle(sessionId: string, now: Date, idleExpiresAt: Date): Promise<boolean>;
  rotate(request: RotationRequest): Promise<RotationOutcome>;
  /** Marks the session revoked (first reason wins) and spends all its refresh tokens. */
  revoke(sessionId: string, reason: string, now: Date, audit?: readonly AuditRecord[]): Promise<boolean>;
  /** Revokes every live session of the user except `exceptSessionId`; returns the ids it revoked. */
  revokeAllOfUser(userId: string, reason: string, now: Date, exceptSessionId?: string, audit?: readonly AuditRecord[]): Promise<string[]>;
  find(sessionId: string): Promise<SessionRecord | undefined>;
  /** The session a refresh token belongs to, spent or not. */
  findByRefreshDigest(digest: string): Promise<SessionRecord | undefined>;
  /** The user's live sessions at `now` (not revoked, not expired), refresh and cookie alike, newest first. */
  listActive(userId: string, now: Date): Promise<SessionRecord[]>;
  /**
   * A step-up within the session: the user proved `authentication` (new methods, a new time) at
   * `now`. Only while the session is live (not revoked, not expired); false: nothing changed. The
   * audit rows are written only when it changed.
   */
  recordAuthentication(sessionId: string, authentication: Authentication, now: Date, audit?: readonly AuditRecord[]): Promise<boolean>;
}
