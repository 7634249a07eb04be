import type { JWK } from 'jose';
import type { AuditRecord } from '../audit/audit-event.js';
import type { SigningAlgorithm } from './jwk-validation.js';
import type { KeyState, TransitionCutoffs } from './key-lifecycle.js';

/** A stored signing key as the store holds it; the private part stays sealed. */
export interface StoredSigningKey {
  readonly kid: string;
  readonly alg: SigningAlgorithm;
  readonly state: KeyState;
  readonly publicJwk: JWK;
  readonly privateJwkSealed: string;
  readonly createdAt: Date;
  readonly publishedAt: Date;
  readonly activateAt: Date | null;
  readonly activatedAt: Date | null;
  readonly retiringAt: Date | null;
  readonly retiredAt: Date | null;
  readonly revokedAt: Date | null;
}

export type NewSigningKey = Pick<StoredSigningKey, 'kid' | 'alg' | 'publicJwk' | 'privateJwkSealed' | 'activateAt'>;

/** One state change the store made; the caller audits, publishes and reports it. */
export interface KeyTransition {
  readonly kid: string;
  readonly to: KeyState | 'revoked';
}

/** Builds the audit rows of the transitions a store call is about to make (written in its transaction). */
export type TransitionAudit = (transitions: readonly KeyTransition[]) => readonly AuditRecord[];

/**
 * The signing-key table. Every state change is a conditional UPDATE inside one transaction under
 * a lock shared by every instance, so two schedulers (or a scheduler and the CLI) running at once
 * make each change once, and at most one key is ever active (a unique index backs that).
 */
export interface SigningKeyStore {
  /** Keys in JWKS order: active first, then pending and retiring by publication. `retired` too when asked. */
  list(options?: { readonly includeRetired?: boolean }): Promise<StoredSigningKey[]>;
  /**
   * Inserts a pending key published at `now`; false when `unless` held under the lock:
   * `scheduled`, a pending key already has an `activate_at` (automatic rotation on two instances);
   * `signer`, a pending or active key exists (the first start of two instances at once).
   */
  insert(key: NewSigningKey, now: Date, audit: TransitionAudit, options?: { readonly unless?: 'scheduled' | 'signer' }): Promise<boolean>;
  /** Sets when a pending key signs; false when no such pending key. */
  schedule(kid: string, activateAt: Date, audit: TransitionAudit): Promise<boolean>;
  /**
   * One scheduler step: with no active key, the oldest pending key becomes active (nothing could
   * sign otherwise); else the earliest due pending key published before the cut-off becomes active
   * and the active one retiring; retiring keys past their cut-off become retired.
   */
  advance(cutoffs: TransitionCutoffs, audit: TransitionAudit): Promise<KeyTransition[]>;
  /** A pending key leaves at once (it never signed); a retiring key is left to the schedule. */
  retire(kid: string, now: Date, audit: TransitionAudit): Promise<'retired' | 'active' | 'already' | 'not_found'>;
  /**
   * Removes a key at once. The active key only with `replacement` (a pending kid), which becomes
   * active in the same transaction: a deployment never stays without a signer.
   */
  revoke(
    kid: string,
    now: Date,
    audit: TransitionAudit,
    replacement?: string,
  ): Promise<'revoked' | 'needs_replacement' | 'bad_replacement' | 'already' | 'not_found'>;
}
