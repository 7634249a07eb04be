import { randomUUID } from 'node:crypto';
import { auditRecord, NO_AUDIT_CONTEXT, type AuditContext } from '../audit/audit-event.js';
import { InvalidGrantError, InvalidScopeError, InvalidTargetError } from '../errors/errors.js';
import { digestRefreshToken, generateRefreshToken, isRefreshTokenShaped } from './refresh-token.js';
import type { RefreshTokenFacts, RefreshTokenFactsCache } from './refresh-token-facts.js';
import type { Authentication } from '@gatehouse/verify/internal';
import { authenticationColumns, type SessionRecord, type SessionStore } from './session-store.js';
import { openSuccessor, sealSuccessor } from './successor-seal.js';

export interface SessionPolicy {
  readonly absoluteTtlMs: number;
  readonly idleTtlMs: number;
  /**
   * Refresh grace window (`GATEHOUSE_REFRESH_GRACE_SECONDS`); 0 is strict. Within it, the same
   * client repeating the token it just spent gets the same successor instead of a revoked session.
   */
  readonly graceMs: number;
}

export interface SecurityEvent {
  /** `replayed_in_grace` is no alarm by itself, but a thief replaying within the window looks exactly like it. */
  readonly event: 'refresh_token.reuse_detected' | 'refresh_token.replayed_in_grace';
  readonly sessionId: string;
  readonly userId: string;
  readonly clientId: string;
}

export interface RefreshFamilyDeps {
  readonly sessions: SessionStore;
  readonly policy: SessionPolicy;
  readonly now: () => number;
  readonly onSecurityEvent: (event: SecurityEvent) => void;
  /** The tokens this instance handed out, so their refresh skips the read before the spend. */
  readonly issuedTokens?: RefreshTokenFactsCache;
}

export interface StartSessionInput {
  readonly userId: string;
  readonly clientId: string;
  readonly tenantId: string | null;
  readonly scope: string;
  /** RFC 8707: the resource server the session's tokens are for; absent or null: the default audience. */
  readonly resource?: string | null;
  readonly device: string;
  readonly ip: string | null;
  /** What the user proved to start it: `{ methods: ['pwd'], time }` after a password. */
  readonly authentication: Authentication;
}

export interface SessionGrant {
  readonly session: SessionRecord;
  readonly refreshToken: string;
}

/** A login: a new session (one refresh-token family) and its first refresh token. */
export async function startSession(deps: RefreshFamilyDeps, input: StartSessionInput, audit: AuditContext = NO_AUDIT_CONTEXT): Promise<SessionGrant> {
  const now = new Date(deps.now());
  const refreshToken = generateRefreshToken();
  const digest = digestRefreshToken(refreshToken);
  const id = randomUUID();
  const { authentication, ...facts } = input;
  const session = await deps.sessions.create(
    {
      id,
      ...facts,
      ...authenticationColumns(authentication),
      createdAt: now,
      lastUsedAt: now,
      expiresAt: new Date(now.getTime() + deps.policy.absoluteTtlMs),
      idleExpiresAt: new Date(now.getTime() + Math.min(deps.policy.idleTtlMs, deps.policy.absoluteTtlMs)),
    },
    digest,
    [auditRecord(audit, { event: 'login.succeeded', outcome: 'success', actorId: input.userId, subjectId: input.userId, sessionId: id }, now)],
  );
  deps.issuedTokens?.remember(digest, session);
  return { session, refreshToken };
}

/**
 * The session a refresh token belongs to, read without spending it (undefined: malformed or
 * unknown). The refresh grant reads what its answer needs through it before the spend: from what
 * this instance remembers of the tokens it handed out, else from the store.
 */
export async function sessionOfRefreshToken(
  deps: Pick<RefreshFamilyDeps, 'sessions' | 'issuedTokens'>,
  presented: string,
): Promise<RefreshTokenFacts | undefined> {
  if (!isRefreshTokenShaped(presented)) return undefined;
  const digest = digestRefreshToken(presented);
  return deps.issuedTokens?.take(digest) ?? deps.sessions.findByRefreshDigest(digest);
}

/**
 * The session a refresh token's digest belongs to, for counting a refresh against it (the
 * refresh limit, which runs before the grant): what this instance remembers is left in place for
 * the grant to take. A token's session never changes, so the remembered one is the stored one.
 */
export async function sessionIdOfRefreshDigest(deps: Pick<RefreshFamilyDeps, 'sessions' | 'issuedTokens'>, digest: string): Promise<string | undefined> {
  return deps.issuedTokens?.peek(digest)?.id ?? (await deps.sessions.findByRefreshDigest(digest))?.id;
}

/**
 * RFC 6749 §6 with rotation: spends the presented token and returns its successor. Presenting a
 * spent token is reuse (RFC 9700 §4.14.2): the whole session is revoked and a security event
 * raised. Every failure is the same InvalidGrantError (the reason goes to the log), except a
 * request for scopes the session does not hold (InvalidScopeError) or naming a resource other
 * than the session's (InvalidTargetError, RFC 8707): then the token stays unspent.
 *
 * With a grace window (`policy.graceMs` > 0) the successor is also stored sealed under the
 * presented token, and a repeat the store classifies as `replayed` gets that same successor: a
 * client whose response was lost can retry without losing its session, and concurrent exchanges
 * still never fork it. A seal that does not open to the successor the store names is reuse.
 */
export async function exchangeRefreshToken(
  deps: RefreshFamilyDeps,
  presented: string,
  clientId: string,
  requestedScopes: readonly string[] = [],
  audit: AuditContext = NO_AUDIT_CONTEXT,
  resource?: string | null,
): Promise<SessionGrant> {
  if (!isRefreshTokenShaped(presented)) throw new InvalidGrantError('malformed refresh token');
  const now = new Date(deps.now());
  const next = generateRefreshToken();
  const nextDigest = digestRefreshToken(next);
  const outcome = await deps.sessions.rotate({
    digest: digestRefreshToken(presented),
    nextDigest,
    clientId,
    requestedScopes,
    ...(resource === undefined ? {} : { resource }),
    now,
    idleTtlMs: deps.policy.idleTtlMs,
    audit: auditRecord(audit, { event: 'refresh.succeeded', outcome: 'success' }, now),
    ...(deps.policy.graceMs > 0 ? { grace: { windowMs: deps.policy.graceMs, sealedSuccessor: sealSuccessor(presented, next) } } : {}),
  });
  switch (outcome.kind) {
    case 'rotated':
      deps.issuedTokens?.remember(nextDigest, outcome.session);
      return { session: outcome.session, refreshToken: next };
    case 'replayed': {
      const successor = openSuccessor(presented, outcome.sealedSuccessor);
      if (successor === undefined || digestRefreshToken(successor) !== outcome.successorDigest) {
        return revokeForReuse(deps, outcome.session, clientId, now, audit);
      }
      deps.onSecurityEvent({ event: 'refresh_token.replayed_in_grace', sessionId: outcome.session.id, userId: outcome.session.userId, clientId });
      return { session: outcome.session, refreshToken: successor };
    }
    case 'reused':
      return revokeForReuse(deps, outcome.session, clientId, now, audit);
    case 'refused':
      throw new InvalidGrantError(outcome.reason);
    case 'scope_exceeded':
      // Checked before the token is spent: the client may retry with the same token.
      throw new InvalidScopeError('refresh asked for more than the session holds');
    case 'target_mismatch':
      // Also before the spend: a session is bound to the resource it was granted for at login.
      throw new InvalidTargetError("refresh named a resource other than the session's");
    case 'unknown':
      throw new InvalidGrantError('unknown refresh token');
  }
}

async function revokeForReuse(deps: RefreshFamilyDeps, session: SessionRecord, clientId: string, now: Date, audit: AuditContext): Promise<never> {
  const record = auditRecord(
    audit,
    { event: 'refresh.reuse_detected', outcome: 'failure', reason: 'refresh_token_reuse', subjectId: session.userId, sessionId: session.id },
    now,
  );
  await deps.sessions.revoke(session.id, 'refresh_token_reuse', now, [record]);
  deps.onSecurityEvent({ event: 'refresh_token.reuse_detected', sessionId: session.id, userId: session.userId, clientId });
  throw new InvalidGrantError('refresh token reuse: session revoked');
}
