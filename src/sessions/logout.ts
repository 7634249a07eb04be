import { auditRecord, type AuditContext } from '../audit/audit-event.js';
import type { Revocations } from '../revocation/revocations.js';

export interface LogoutDeps {
  readonly revocations: Pick<Revocations, 'revokeSession' | 'revokeEverythingOfUser' | 'revokeAccessToken'>;
  readonly now: () => number;
}

/** The caller as the logout use cases need it (a subset of the guard's principal). */
export type LoggedInCaller =
  | { readonly via: 'session'; readonly subject: string; readonly sessionId: string }
  | {
      readonly via: 'bearer';
      readonly subject: string;
      readonly sessionId?: string | undefined;
      readonly tokenId: string;
      /** Seconds since the epoch. */
      readonly expiresAt: number;
    };

/**
 * Ends the caller's session: its refresh tokens are spent and every access token of it (including
 * the one presented) is revoked on every instance. A token without a session loses just itself.
 */
export async function logout(deps: LogoutDeps, caller: LoggedInCaller, audit: AuditContext): Promise<void> {
  const now = new Date(deps.now());
  const record = auditRecord(
    audit,
    { event: 'session.logout', outcome: 'success', actorId: caller.subject, subjectId: caller.subject, sessionId: caller.sessionId ?? null },
    now,
  );
  if (caller.sessionId !== undefined) {
    await deps.revocations.revokeSession(caller.sessionId, 'logout', now, [record]);
    return;
  }
  // Only an access token can lack a session: it loses just itself.
  if (caller.via === 'bearer') await deps.revocations.revokeAccessToken({ jti: caller.tokenId, exp: caller.expiresAt }, now, [record]);
}

/**
 * Log out everywhere: every session of the user ends and the token version moves on, so every
 * access token issued before (whatever its session, including ones from a login racing this call)
 * stops working.
 */
export async function logoutEverywhere(deps: LogoutDeps, caller: Pick<LoggedInCaller, 'subject'>, audit: AuditContext): Promise<number> {
  const now = new Date(deps.now());
  const record = auditRecord(audit, { event: 'session.logout_all', outcome: 'success', actorId: caller.subject, subjectId: caller.subject }, now);
  const ids = await deps.revocations.revokeEverythingOfUser(caller.subject, 'logout_all', now, [record]);
  return ids?.length ?? 0;
}
