import { ThrottledError } from '../errors/errors.js';
import type { FactorKekSource } from './factor-kek.js';
import type { SecondFactorThrottle } from '../throttle/second-factor-throttle.js';
import type { FactorStore } from './factor-store.js';
import { digestRecoveryCode } from './recovery-codes.js';
import { openTotpSecret } from './totp-secret.js';
import { matchingStep } from './totp.js';
import type { FactorDeps } from './factors.js';

/** What the user typed at the factor step: a code from the authenticator app, or a recovery code. */
export type SecondFactorProof = { readonly otp: string } | { readonly recoveryCode: string };

/** The proof among the fields a request gave: exactly one of them, else undefined (the caller answers 400). */
export function secondFactorProofOf(fields: { readonly otp?: string | undefined; readonly recoveryCode?: string | undefined }): SecondFactorProof | undefined {
  const { otp, recoveryCode } = fields;
  if (otp !== undefined && recoveryCode === undefined) return { otp };
  if (recoveryCode !== undefined && otp === undefined) return { recoveryCode };
  return undefined;
}

export interface SecondFactorDeps {
  readonly factors: Pick<FactorStore, 'listOfUser' | 'acceptStep' | 'consumeRecoveryCode'>;
  /** Undefined in production without GATEHOUSE_KEY_ENCRYPTION_KEY: no TOTP code can then be checked. */
  readonly kek: FactorKekSource;
  readonly throttle: SecondFactorThrottle;
  /** Epoch ms. */
  readonly now: () => number;
}

/** The one place that turns the factors' deps (services.factors) into what the code checks need. */
export function secondFactorDepsOf(factors: Pick<FactorDeps, 'store' | 'kek' | 'throttle' | 'now'>): SecondFactorDeps {
  return { factors: factors.store, kek: factors.kek, throttle: factors.throttle, now: factors.now };
}

export type SecondFactorOutcome =
  | { readonly accepted: true; readonly method: 'otp' | 'recovery_code'; readonly factorId: string | null }
  /** For the log and the audit trail only: the caller answers every refusal alike. */
  | { readonly accepted: false; readonly reason: 'wrong_code' | 'replayed_code' | 'malformed_code' | 'no_factor' };

/**
 * Checks a code for the user, throttled per account (GATEHOUSE_LIMIT_OTP_USER: a refusal throws
 * ThrottledError before anything is checked). A TOTP code is accepted only by moving its factor's
 * last step forward (compare-and-set in the store), so a code is good once, and a code of a step at
 * or before the last accepted one is refused (RFC 6238 §5.2). A recovery code is deleted as it is
 * accepted (`DELETE … RETURNING`), so it too is good once, whoever races.
 */
export async function verifySecondFactor(deps: SecondFactorDeps, userId: string, proof: SecondFactorProof): Promise<SecondFactorOutcome> {
  const decision = await deps.throttle.begin(userId);
  if ('refused' in decision) throw new ThrottledError(decision.refused.retryAfterMs, decision.refused.limit);
  const { attempt } = decision;
  try {
    const outcome = 'otp' in proof ? await checkTotp(deps, userId, proof.otp) : await checkRecoveryCode(deps, userId, proof.recoveryCode);
    await (outcome.accepted ? attempt.succeeded() : attempt.failed());
    return outcome;
  } finally {
    attempt.end();
  }
}

async function checkTotp(deps: SecondFactorDeps, userId: string, code: string): Promise<SecondFactorOutcome> {
  const factors = (await deps.factors.listOfUser(userId)).filter((f) => f.kind === 'totp' && f.confirmedAt !== null);
  const kek = factors.length === 0 ? undefined : await deps.kek();
  if (kek === undefined) return { accepted: false, reason: 'no_factor' };
  const now = deps.now();
  let replayed = false;
  for (const factor of factors) {
    const step = matchingStep(openTotpSecret(kek, factor.id, factor.sealedSecret), code, now);
    if (step === undefined) continue;
    if (await deps.factors.acceptStep(factor.id, step, new Date(now))) return { accepted: true, method: 'otp', factorId: factor.id };
    replayed = true;
  }
  return { accepted: false, reason: replayed ? 'replayed_code' : 'wrong_code' };
}

async function checkRecoveryCode(deps: SecondFactorDeps, userId: string, code: string): Promise<SecondFactorOutcome> {
  const digest = digestRecoveryCode(code);
  if (digest === undefined) return { accepted: false, reason: 'malformed_code' };
  return (await deps.factors.consumeRecoveryCode(userId, digest))
    ? { accepted: true, method: 'recovery_code', factorId: null }
    : { accepted: false, reason: 'wrong_code' };
}
