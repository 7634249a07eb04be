import { randomUUID } from 'node:crypto';
import { auditRecord, type AuditContext } from '../audit/audit-event.js';
import { ForbiddenError, InvalidCodeError, NotFoundError, ThrottledError, TotpUnavailableError } from '../errors/errors.js';
import type { FactorKekSource } from './factor-kek.js';
import type { SecondFactorThrottle } from '../throttle/second-factor-throttle.js';
import type { FactorKind, FactorStore } from './factor-store.js';
import { qrCodeSvg } from './qr-code.js';
import { newRecoveryCodeSet } from './recovery-codes.js';
import { openTotpSecret, sealTotpSecret } from './totp-secret.js';
import { matchingStep, newTotpSecret, otpauthUri } from './totp.js';

export interface FactorDeps {
  readonly store: FactorStore;
  /** Undefined in production without GATEHOUSE_KEY_ENCRYPTION_KEY: enrolment is refused (TotpUnavailableError). */
  readonly kek: FactorKekSource;
  readonly throttle: SecondFactorThrottle;
  /** The issuer URL: its host names the account in the authenticator app. */
  readonly issuer: string;
  readonly now: () => number;
}

/** A factor as its owner sees it: never the secret. */
export interface FactorView {
  readonly id: string;
  readonly kind: FactorKind;
  readonly label: string;
  readonly createdAt: Date;
  readonly confirmedAt: Date | null;
  readonly lastUsedAt: Date | null;
}

export interface TotpEnrolment {
  readonly id: string;
  /** The `otpauth://` URI (it holds the secret: shown to the user once, never logged). */
  readonly otpauthUri: string;
  readonly qrSvg: string;
}

export const DEFAULT_TOTP_LABEL = 'Authenticator app';

/**
 * A new, unconfirmed TOTP factor: the secret sealed under the KEK (bound to the factor id), the
 * otpauth URI and its QR code returned once. It is no second factor until confirmed.
 */
export async function enrolTotp(
  deps: FactorDeps,
  user: { readonly id: string; readonly username: string },
  label: string | undefined,
  audit: AuditContext,
): Promise<TotpEnrolment> {
  const kek = await deps.kek();
  if (kek === undefined) throw new TotpUnavailableError();
  const id = randomUUID();
  const secret = newTotpSecret();
  const now = new Date(deps.now());
  await deps.store.insert(
    {
      id,
      userId: user.id,
      kind: 'totp',
      label: label ?? DEFAULT_TOTP_LABEL,
      sealedSecret: sealTotpSecret(kek, id, secret),
      lastStep: null,
      createdAt: now,
      confirmedAt: null,
      lastUsedAt: null,
    },
    [auditRecord(audit, { event: 'factor.enrolled', outcome: 'success', reason: id, actorId: user.id, subjectId: user.id }, now)],
  );
  const uri = otpauthUri(secret, new URL(deps.issuer).host, user.username);
  return { id, otpauthUri: uri, qrSvg: await qrCodeSvg(uri) };
}

/**
 * An unconfirmed factor's enrolment shown again (after a wrong first code), from its sealed
 * secret; NotFoundError when it is not the user's or is confirmed already (its secret is then
 * never shown again).
 */
export async function pendingEnrolment(
  deps: Pick<FactorDeps, 'store' | 'kek' | 'issuer'>,
  user: { readonly id: string; readonly username: string },
  factorId: string,
): Promise<TotpEnrolment> {
  const factor = await deps.store.find(factorId, user.id);
  if (factor === undefined || factor.confirmedAt !== null) throw new NotFoundError('no pending enrolment of this user');
  const kek = await deps.kek();
  if (kek === undefined) throw new TotpUnavailableError();
  const uri = otpauthUri(openTotpSecret(kek, factor.id, factor.sealedSecret), new URL(deps.issuer).host, user.username);
  return { id: factor.id, otpauthUri: uri, qrSvg: await qrCodeSvg(uri) };
}

/**
 * Confirms an enrolment with a first code (throttled like every code). The user's first confirmed
 * factor also generates the recovery codes, returned once; a later one returns none.
 */
export async function confirmTotp(
  deps: FactorDeps,
  userId: string,
  factorId: string,
  code: string,
  audit: AuditContext,
): Promise<{ readonly recoveryCodes: readonly string[] | undefined }> {
  const factor = await deps.store.find(factorId, userId);
  if (factor === undefined) throw new NotFoundError('no such factor of this user');
  if (factor.confirmedAt !== null) throw new InvalidCodeError('factor already confirmed');
  const kek = await deps.kek();
  if (kek === undefined) throw new TotpUnavailableError();
  const decision = await deps.throttle.begin(userId);
  if ('refused' in decision) throw new ThrottledError(decision.refused.retryAfterMs, decision.refused.limit);
  try {
    const now = deps.now();
    const step = matchingStep(openTotpSecret(kek, factor.id, factor.sealedSecret), code, now);
    const first = !(await deps.store.hasConfirmed(userId));
    const set = first ? newRecoveryCodeSet() : undefined;
    const at = new Date(now);
    const records = [auditRecord(audit, { event: 'factor.confirmed', outcome: 'success', reason: factorId, actorId: userId, subjectId: userId }, at)];
    if (first)
      records.push(
        auditRecord(audit, { event: 'recovery_codes.generated', outcome: 'success', reason: 'first_factor', actorId: userId, subjectId: userId }, at),
      );
    if (step === undefined || !(await deps.store.confirm(factorId, userId, step, at, set?.digests, records))) {
      await decision.attempt.failed();
      throw new InvalidCodeError(step === undefined ? 'wrong_code' : 'confirmed_concurrently');
    }
    await decision.attempt.succeeded();
    return { recoveryCodes: set?.codes };
  } finally {
    decision.attempt.end();
  }
}

export async function listFactors(deps: Pick<FactorDeps, 'store'>, userId: string): Promise<readonly FactorView[]> {
  return (await deps.store.listOfUser(userId)).map(({ id, kind, label, createdAt, confirmedAt, lastUsedAt }) =>
    Object.freeze({ id, kind, label, createdAt, confirmedAt, lastUsedAt }),
  );
}

/** Removes the factor (NotFoundError if it is not the user's); the last confirmed one takes the recovery codes with it. */
export async function removeFactor(deps: Pick<FactorDeps, 'store' | 'now'>, userId: string, factorId: string, audit: AuditContext): Promise<void> {
  const record = auditRecord(
    audit,
    { event: 'factor.removed', outcome: 'success', reason: factorId, actorId: userId, subjectId: userId },
    new Date(deps.now()),
  );
  if (!(await deps.store.remove(factorId, userId, [record]))) throw new NotFoundError('no such factor of this user');
}

/** A new set of recovery codes, shown once; the old set stops working in the same transaction. */
export async function regenerateRecoveryCodes(deps: Pick<FactorDeps, 'store' | 'now'>, userId: string, audit: AuditContext): Promise<readonly string[]> {
  // Codes without a factor would be a second factor standing alone, one that needs no device.
  if (!(await deps.store.hasConfirmed(userId))) throw new ForbiddenError('recovery codes need a confirmed second factor');
  const { codes, digests } = newRecoveryCodeSet();
  const now = new Date(deps.now());
  const record = auditRecord(audit, { event: 'recovery_codes.generated', outcome: 'success', reason: 'regenerated', actorId: userId, subjectId: userId }, now);
  await deps.store.replaceRecoveryCodes(userId, digests, now, [record]);
  return codes;
}

/**
 * An administrator's answer to a user who lost the authenticator and the recovery codes: every
 * TOTP factor and recovery code of the account goes (audited with who did it), so the password
 * signs in alone again. Passkeys stay: each is listed and removed on its own. How many factors went.
 */
export async function resetSecondFactors(
  deps: Pick<FactorDeps, 'store' | 'now'>,
  actor: { readonly userId: string | null; readonly context: AuditContext },
  userId: string,
): Promise<number> {
  const now = new Date(deps.now());
  const record = auditRecord(actor.context, { event: 'factor.reset_by_admin', outcome: 'success', actorId: actor.userId, subjectId: userId }, now);
  return deps.store.removeAllOfUser(userId, [record]);
}
