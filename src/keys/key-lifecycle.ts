/**
 * When stored keys change state, from two numbers: the JWKS cache lifetime (its
 * `Cache-Control: max-age`) and the access-token lifetime. Pure: the scheduler and the CLI take
 * the cut-off times from here and the store applies them with conditional UPDATEs.
 *
 * pending (published, not signing) → active (signing, exactly one) → retiring (published,
 * verifying, not signing) → retired (gone from the JWKS). Revoked: gone at once, from any state.
 */
export const KeyStates = ['pending', 'active', 'retiring', 'retired'] as const;
export type KeyState = (typeof KeyStates)[number];

/**
 * The largest clock tolerance a Gatehouse verifier accepts (the server's and the SDK's cap is
 * 30 s): a token is still valid that long past its `exp` somewhere, so its key must be too.
 */
export const KEY_CLOCK_TOLERANCE_SECONDS = 30;

/**
 * How long a change takes to reach every Gatehouse instance at worst: a key-set poll (5 s, when
 * the pub/sub message is lost) plus margin. A new key is in every instance's JWKS only that long
 * after its row is written, and the old key may sign on a slow instance that long after the switch.
 */
export const KEY_PROPAGATION_MS = 10_000;

export interface LifecycleSettings {
  readonly jwksMaxAgeSeconds: number;
  readonly accessTokenTtlSeconds: number;
  /** Automatic rotation period; undefined: keys rotate only when told to. */
  readonly rotationDays?: number | undefined;
}

export interface LifecycleTimings {
  /** A key is published at least this long before it signs: every cached JWKS has it by then. */
  readonly publishLeadMs: number;
  /** A retiring key stays published at least this long after its last signature. */
  readonly retireAfterMs: number;
  readonly rotationPeriodMs: number | undefined;
}

export function lifecycleTimings(settings: LifecycleSettings): LifecycleTimings {
  return Object.freeze({
    publishLeadMs: settings.jwksMaxAgeSeconds * 1000 + KEY_PROPAGATION_MS,
    retireAfterMs: (settings.accessTokenTtlSeconds + KEY_CLOCK_TOLERANCE_SECONDS) * 1000 + KEY_PROPAGATION_MS,
    rotationPeriodMs: settings.rotationDays === undefined ? undefined : settings.rotationDays * 86_400_000,
  });
}

/** The earliest moment a key published at `publishedAt` may sign. */
export function earliestActivation(timings: LifecycleTimings, publishedAt: Date): Date {
  return new Date(publishedAt.getTime() + timings.publishLeadMs);
}

/** The earliest moment a key whose last signature was at `retiringAt` may leave the JWKS. */
export function earliestRetirement(timings: LifecycleTimings, retiringAt: Date): Date {
  return new Date(retiringAt.getTime() + timings.retireAfterMs);
}

/** Cut-offs for one scheduler step at `now`: the store moves exactly the keys past them. */
export interface TransitionCutoffs {
  readonly now: Date;
  /** Pending keys published at or before this (and due by their `activate_at`) may become active. */
  readonly publishedBefore: Date;
  /** Retiring keys whose last signature is at or before this become retired. */
  readonly retiringBefore: Date;
}

export function transitionCutoffs(timings: LifecycleTimings, now: Date): TransitionCutoffs {
  return {
    now,
    publishedBefore: new Date(now.getTime() - timings.publishLeadMs),
    retiringBefore: new Date(now.getTime() - timings.retireAfterMs),
  };
}

/**
 * With automatic rotation: when the successor of a key active since `activatedAt` should sign, and
 * whether it must be created now (one publish lead before that), so it is published in time.
 */
export function automaticRotation(timings: LifecycleTimings, activatedAt: Date, now: Date): { due: boolean; activateAt: Date } | undefined {
  if (timings.rotationPeriodMs === undefined) return undefined;
  const target = activatedAt.getTime() + timings.rotationPeriodMs;
  const activateAt = new Date(Math.max(target, now.getTime() + timings.publishLeadMs));
  return { due: now.getTime() >= target - timings.publishLeadMs, activateAt };
}
