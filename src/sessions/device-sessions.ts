import { auditRecord, type AuditContext } from '../audit/audit-event.js';
import { NotFoundError } from '../errors/errors.js';
import type { Revocations } from '../revocation/revocations.js';
import type { SessionRecord, SessionStore } from './session-store.js';

export interface DeviceSessionDeps {
  readonly sessions: Pick<SessionStore, 'find' | 'listActive'>;
  readonly revocations: Pick<Revocations, 'revokeSession'>;
  readonly now: () => number;
}

export interface DeviceSession {
  readonly id: string;
  readonly createdAt: Date;
  readonly lastUsedAt: Date;
  readonly device: string;
  /** The session of the token making this request. */
  readonly current: boolean;
}

/** The caller's sessions that can still be refreshed, newest first. */
export async function listDeviceSessions(
  deps: DeviceSessionDeps,
  caller: { readonly subject: string; readonly sessionId?: string | undefined },
): Promise<DeviceSession[]> {
  const sessions = await deps.sessions.listActive(caller.subject, new Date(deps.now()));
  return sessions.map((s: SessionRecord) => ({
    id: s.id,
    createdAt: s.createdAt,
    lastUsedAt: s.lastUsedAt,
    device: s.device,
    current: s.id === caller.sessionId,
  }));
}

/**
 * Revokes one of the caller's sessions ("sign out that device"). Someone else's session, an
 * unknown id and an already-ended session are the same NotFoundError: an id never tells whether
 * it exists for another user.
 */
export async function revokeDeviceSession(
  deps: DeviceSessionDeps,
  caller: { readonly subject: string },
  sessionId: string,
  audit: AuditContext,
): Promise<void> {
  const session = await deps.sessions.find(sessionId);
  if (session === undefined) throw new NotFoundError('no such session');
  if (session.userId !== caller.subject) throw new NotFoundError("another user's session");
  const now = new Date(deps.now());
  if (session.revokedAt !== null || session.expiresAt <= now || session.idleExpiresAt <= now) throw new NotFoundError('session already ended');
  const record = auditRecord(
    audit,
    { event: 'session.revoked', outcome: 'success', reason: 'device_revoked', actorId: caller.subject, subjectId: caller.subject, sessionId: session.id },
    now,
  );
  // The stored id, not the one from the URL: the same UUID may arrive in another case.
  await deps.revocations.revokeSession(session.id, 'device_revoked', now, [record]);
}
