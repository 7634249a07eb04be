import { auditRecord, NO_AUDIT_CONTEXT, type AuditContext, type AuditEventType } from '../audit/audit-event.js';
import type { SigningAlgorithm } from './jwk-validation.js';
import { sealPrivateJwk, type KeyEncryptionKey } from './key-encryption.js';
import { DEFAULT_ALGORITHM, generatePrivateJwk } from './key-generation.js';
import { automaticRotation, earliestActivation, transitionCutoffs, type LifecycleTimings } from './key-lifecycle.js';
import { toPublicJwk } from './jwk-validation.js';
import type { KeyTransition, SigningKeyStore, StoredSigningKey, TransitionAudit } from './signing-key-store.js';

/** Who changes keys: the operator at the command line (actor null) or the scheduler. */
export interface KeyActor {
  readonly userId: string | null;
  readonly context: AuditContext;
}

export const SCHEDULER_ACTOR: KeyActor = Object.freeze({ userId: null, context: NO_AUDIT_CONTEXT });

export interface KeyManagementDeps {
  readonly store: SigningKeyStore;
  readonly kek: KeyEncryptionKey;
  readonly timings: LifecycleTimings;
  /** Epoch ms; injectable so tests move time instead of waiting. */
  readonly now: () => number;
  /** Called after every change this process made, so every instance reloads (publish) and this one too. */
  readonly changed: () => Promise<void>;
  /** After a revocation: tell resource servers outside the deployment (the revocation feed). */
  readonly revoked?: (kid: string) => Promise<void>;
}

export interface NewKeyOptions {
  readonly alg?: SigningAlgorithm;
  readonly rsaBits?: number;
}

/** Refusals a command reports as one line; `code` lets callers tell them apart. */
export class KeyManagementError extends Error {
  readonly code: 'not_found' | 'is_active' | 'already' | 'needs_replacement' | 'not_pending' | 'rotation_scheduled' | 'no_active_key';
  constructor(code: KeyManagementError['code'], message: string) {
    super(message);
    this.name = 'KeyManagementError';
    this.code = code;
  }
}

const EVENT: Record<KeyTransition['to'], AuditEventType> = {
  pending: 'key.created',
  active: 'key.activated',
  retiring: 'key.retiring',
  retired: 'key.retired',
  revoked: 'key.revoked',
};

/** Audit rows: the kid goes in `reason`, as the role does for role changes; no key material. */
function auditOf(actor: KeyActor, now: Date, override?: AuditEventType): TransitionAudit {
  return (transitions) =>
    transitions.map((t) => auditRecord(actor.context, { event: override ?? EVENT[t.to], outcome: 'success', reason: t.kid, actorId: actor.userId }, now));
}

/**
 * The key lifecycle's use cases: create (a standby key), rotate (a key that signs once every
 * cached JWKS has it), retire, revoke, and the scheduler step every instance runs. Every change is
 * made by the store under its lock; `changed` then tells every instance.
 */
export function createKeyManagement(deps: KeyManagementDeps) {
  const date = () => new Date(deps.now());

  async function newKey(
    options: NewKeyOptions,
    activateAt: Date | null,
    actor: KeyActor,
    unless?: 'scheduled' | 'signer',
  ): Promise<{ kid: string; inserted: boolean }> {
    const jwk = await generatePrivateJwk(options.alg ?? DEFAULT_ALGORITHM, {
      nowMs: deps.now(),
      ...(options.rsaBits === undefined ? {} : { rsaBits: options.rsaBits }),
    });
    const inserted = await deps.store.insert(
      { kid: jwk.kid, alg: jwk.alg, publicJwk: toPublicJwk(jwk), privateJwkSealed: sealPrivateJwk(deps.kek, jwk), activateAt },
      date(),
      auditOf(actor, date()),
      unless === undefined ? {} : { unless },
    );
    return { kid: jwk.kid, inserted };
  }

  const find = async (kid: string): Promise<StoredSigningKey> => {
    const key = (await deps.store.list({ includeRetired: true })).find((k) => k.kid === kid);
    if (key === undefined) throw new KeyManagementError('not_found', `no signing key ${kid}`);
    return key;
  };

  return {
    list: (includeRetired = false) => deps.store.list({ includeRetired }),

    /** A pending key, published now, signing only when a rotation schedules it (or no key signs). */
    async create(options: NewKeyOptions, actor: KeyActor): Promise<StoredSigningKey> {
      const { kid } = await newKey(options, null, actor);
      await deps.store.advance(transitionCutoffs(deps.timings, date()), auditOf(SCHEDULER_ACTOR, date()));
      await deps.changed();
      return find(kid);
    },

    /**
     * Schedules `kid` (a pending key) or a new key to sign once it has been published one JWKS
     * cache lifetime; the active key then retires. One rotation at a time.
     */
    async rotate(options: NewKeyOptions & { readonly kid?: string }, actor: KeyActor): Promise<StoredSigningKey> {
      const keys = await deps.store.list();
      const scheduled = keys.find((k) => k.state === 'pending' && k.activateAt !== null);
      if (scheduled !== undefined) {
        throw new KeyManagementError(
          'rotation_scheduled',
          `a rotation is already scheduled: ${scheduled.kid} signs from ${scheduled.activateAt!.toISOString()}`,
        );
      }
      let kid: string;
      if (options.kid === undefined) {
        ({ kid } = await newKey(options, new Date(deps.now() + deps.timings.publishLeadMs), actor));
      } else {
        const key = await find(options.kid);
        if (key.state !== 'pending' || key.revokedAt !== null)
          throw new KeyManagementError('not_pending', `${key.kid} is ${key.revokedAt === null ? key.state : 'revoked'}, not pending`);
        const at = new Date(Math.max(deps.now(), earliestActivation(deps.timings, key.publishedAt).getTime()));
        await deps.store.schedule(key.kid, at, auditOf(actor, date(), 'key.scheduled'));
        kid = key.kid;
      }
      await deps.store.advance(transitionCutoffs(deps.timings, date()), auditOf(SCHEDULER_ACTOR, date()));
      await deps.changed();
      return find(kid);
    },

    /** A pending key leaves at once; the active key is refused (rotate instead); a retiring key leaves on schedule. */
    async retire(kid: string, actor: KeyActor): Promise<'retired' | 'retiring'> {
      const outcome = await deps.store.retire(kid, date(), auditOf(actor, date()));
      if (outcome === 'not_found') throw new KeyManagementError('not_found', `no signing key ${kid}`);
      if (outcome === 'active') {
        throw new KeyManagementError('is_active', `${kid} is the active key: run gatehouse keys rotate, which retires it once its successor signs`);
      }
      if (outcome === 'already') {
        const key = await find(kid);
        if (key.state === 'retiring') return 'retiring';
        throw new KeyManagementError('already', `${kid} is already ${key.revokedAt === null ? 'retired' : 'revoked'}`);
      }
      await deps.changed();
      return 'retired';
    },

    /**
     * Removes `kid` at once, whatever its state: it leaves the JWKS and tokens it signed stop
     * verifying on every instance. The active key only with `replace`: the oldest published
     * pending key (or a new one) signs in the same transaction, since a deployment without a
     * signer cannot log anyone in. That replacement signs before every cached JWKS has it; a
     * compromise outweighs that.
     */
    async revoke(kid: string, options: NewKeyOptions & { readonly replace?: boolean }, actor: KeyActor): Promise<{ replacement: string | undefined }> {
      const key = await find(kid);
      let replacement: string | undefined;
      if (key.state === 'active' && key.revokedAt === null) {
        if (options.replace !== true) {
          throw new KeyManagementError('needs_replacement', `${kid} is the only active key: add --replace to make another key active in the same step`);
        }
        replacement = (await deps.store.list()).find((k) => k.state === 'pending')?.kid ?? (await newKey(options, null, actor)).kid;
      }
      const outcome = await deps.store.revoke(kid, date(), auditOf(actor, date()), replacement);
      if (outcome === 'not_found') throw new KeyManagementError('not_found', `no signing key ${kid}`);
      if (outcome === 'already') throw new KeyManagementError('already', `${kid} is already ${key.revokedAt === null ? 'retired' : 'revoked'}`);
      if (outcome !== 'revoked') throw new KeyManagementError('needs_replacement', `${kid} changed state meanwhile; run the command again`);
      await deps.changed();
      await deps.revoked?.(kid);
      return { replacement };
    },

    /**
     * The scheduler step (every instance, every few seconds; idempotent): a first key when the
     * store has none, automatic rotation when due, then the due transitions. Returns what changed.
     */
    async advance(options: { readonly defaultAlgorithm?: SigningAlgorithm } = {}): Promise<KeyTransition[]> {
      const keys = await deps.store.list();
      const created: KeyTransition[] = [];
      if (!keys.some((k) => k.state === 'active' || k.state === 'pending')) {
        const { kid, inserted } = await newKey({ alg: options.defaultAlgorithm ?? DEFAULT_ALGORITHM }, date(), SCHEDULER_ACTOR, 'signer');
        if (inserted) created.push({ kid, to: 'pending' });
      } else {
        const active = keys.find((k) => k.state === 'active');
        const rotation = active?.activatedAt == null ? undefined : automaticRotation(deps.timings, active.activatedAt, date());
        if (active !== undefined && rotation?.due === true && !keys.some((k) => k.state === 'pending' && k.activateAt !== null)) {
          const { kid, inserted } = await newKey({ alg: active.alg }, rotation.activateAt, SCHEDULER_ACTOR, 'scheduled');
          if (inserted) created.push({ kid, to: 'pending' });
        }
      }
      const moved = await deps.store.advance(transitionCutoffs(deps.timings, date()), auditOf(SCHEDULER_ACTOR, date()));
      const all = [...created, ...moved];
      if (all.length > 0) await deps.changed();
      return all;
    },
  };
}

export type KeyManagement = ReturnType<typeof createKeyManagement>;
