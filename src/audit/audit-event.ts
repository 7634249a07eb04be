/**
 * Security events as the audit trail records them (issue 7): who did what to whose account, from
 * where, with what outcome. Never a secret: no password, token, hash, or attempted username (a
 * user who types a password into the username field must not find it in the trail).
 */
export type AuditEventType =
  | 'user.registered'
  | 'login.succeeded'
  | 'login.failed'
  | 'refresh.succeeded'
  | 'refresh.reuse_detected'
  | 'session.logout'
  | 'session.logout_all'
  | 'session.revoked'
  /** A browser signed in (reason `cookie`): a cookie session, in the transaction that creates it. */
  | 'session.created'
  /** A cookie session ended by its browser (reason `sign_out`) or replaced at the next sign-in (`replaced_at_sign_in`). */
  | 'session.ended'
  | 'token.revoked'
  | 'user.password_changed'
  /** A wrong current password at POST /me/password (reason `wrong_password` or `password_too_long`). */
  | 'user.password_change_failed'
  | 'request.throttled'
  | 'user.disabled'
  | 'user.enabled'
  | 'user.locked'
  | 'user.unlocked'
  | 'user.logged_out_by_admin'
  | 'role.granted'
  | 'role.revoked'
  | 'user.deleted'
  | 'tenant.created'
  | 'membership.added'
  | 'membership.removed'
  | 'tenant_role.granted'
  | 'tenant_role.revoked'
  // Signing-key lifecycle (stored keys): the kid is the reason; the actor is null (CLI, scheduler).
  | 'key.created'
  | 'key.scheduled'
  | 'key.activated'
  | 'key.retiring'
  | 'key.retired'
  | 'key.revoked'
  // API keys of users (src/apikeys): the reason is `api_key:<key id>` (the id is public, never the secret).
  | 'api_key.created'
  | 'api_key.rotated'
  | 'api_key.revoked'
  | 'api_key.expired_use'
  | 'api_key.new_address'
  // Service accounts (src/admin/service-accounts.ts): the subject is the account, the actor the admin (null: the CLI).
  | 'service_account.created'
  | 'service_account.disabled'
  | 'service_account.deleted'
  /** A client-credentials grant refused (reason: why; the subject when the account is known). */
  | 'client_credentials.failed'
  /** A WebSocket ticket issued (POST /auth/ws-ticket); never the ticket itself. */
  | 'ws_ticket.issued'
  // Mailed codes (src/recovery, src/email): never the code, never the identifier typed.
  /** A reset asked for; `success`: a code was mailed; `failure` reasons: no_account, no_verified_email, account_disabled, throttled. */
  | 'password_reset.requested'
  | 'password_reset.completed'
  /** A reset code refused (malformed_code, unknown_used_or_expired, password_changed_since, used_concurrently, account_disabled). */
  | 'password_reset.refused'
  /** A confirmation code mailed (reason `registration`, `resend` or `change`), or not (a failure reason as for resets). */
  | 'email.confirmation_requested'
  | 'email.confirmed'
  | 'email.confirmation_refused'
  // Passkeys (src/passkeys): the reason is `passkey:<id>` (Gatehouse's id, never the public key).
  | 'passkey.registered'
  | 'passkey.removed'
  /** A passkey's assertion accepted for a sign-in (its counter moved); the session's own event follows. Refusals are `login.failed` with a `passkey_…` reason. */
  | 'passkey.signed_in'
  // Second factors (src/factors): never a secret, a code or a challenge; the reason is the factor id or the method.
  /** A TOTP factor created, unconfirmed (reason: the factor id). */
  | 'factor.enrolled'
  /** Confirmed by its first code (reason: the factor id); the first one also generates recovery codes. */
  | 'factor.confirmed'
  | 'factor.removed'
  /** An administrator removed every TOTP factor and recovery code of the account (a lost authenticator). */
  | 'factor.reset_by_admin'
  /** A new set of recovery codes (reason `first_factor` or `regenerated`); the old set is gone. */
  | 'recovery_codes.generated'
  /** A right password of an account with a second factor: a challenge issued (reason: `tokens` or `cookie`). */
  | 'mfa.challenged'
  /** The factor step passed (reason `otp` or `recovery_code`). */
  | 'mfa.succeeded'
  /** The factor step refused (reason: challenge_unknown_used_or_expired, wrong_code, replayed_code, password_changed_since, …). */
  | 'mfa.failed';

/** Where a request came from, as the HTTP layer saw it. */
export interface AuditContext {
  readonly ip: string | null;
  readonly userAgent: string | null;
  readonly requestId: string | null;
}

export const NO_AUDIT_CONTEXT: AuditContext = Object.freeze({ ip: null, userAgent: null, requestId: null });

export interface AuditRecord {
  readonly occurredAt: Date;
  readonly event: AuditEventType;
  readonly outcome: 'success' | 'failure';
  /** A stable code (`wrong_password`, `refresh_token_reuse`…), never text a client wrote. */
  readonly reason: string | null;
  readonly actorId: string | null;
  readonly subjectId: string | null;
  readonly sessionId: string | null;
  readonly ip: string | null;
  readonly userAgent: string | null;
  readonly requestId: string | null;
}

export interface StoredAuditRecord extends AuditRecord {
  readonly id: number;
}

const MAX_USER_AGENT = 256;

/** Builds a record; trims what a client controls so the trail cannot be bloated through it. */
export function auditRecord(
  context: AuditContext,
  fields: Pick<AuditRecord, 'event' | 'outcome'> & Partial<Pick<AuditRecord, 'reason' | 'actorId' | 'subjectId' | 'sessionId'>>,
  occurredAt: Date,
): AuditRecord {
  return {
    occurredAt,
    event: fields.event,
    outcome: fields.outcome,
    reason: fields.reason ?? null,
    actorId: fields.actorId ?? null,
    subjectId: fields.subjectId ?? null,
    sessionId: fields.sessionId ?? null,
    ip: context.ip,
    userAgent: context.userAgent === null ? null : context.userAgent.slice(0, MAX_USER_AGENT),
    requestId: context.requestId,
  };
}

export interface AuditQuery {
  readonly subjectId?: string;
  readonly event?: AuditEventType;
  readonly since?: Date;
  readonly until?: Date;
  /** Keyset pagination: rows with id below this. */
  readonly beforeId?: number;
  readonly limit: number;
}

/** The trail: standalone records (events that change nothing, like a failed login) and reads. */
export interface AuditLog {
  record(record: AuditRecord): Promise<void>;
  /** Newest first. */
  list(query: AuditQuery): Promise<StoredAuditRecord[]>;
}
