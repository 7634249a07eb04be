import { ConfigError, StoreUnavailableError } from '../errors/errors.js';
import type { EphemeralStore, Subscription } from '../stores/ephemeral/ephemeral-store.js';
import { KEK_VARIABLE, type KeyEncryptionKey } from './key-encryption.js';
import type { KeySet } from './key-set.js';
import type { SigningKeyStore } from './signing-key-store.js';
import { buildStoredKeySet, type StoredKeySetResult } from './stored-key-set.js';
import { coalescedReload } from '../stores/coalesced-reload.js';

export interface LiveKeySetDeps {
  readonly store: Pick<SigningKeyStore, 'list'>;
  readonly kek: KeyEncryptionKey;
  readonly feed: Pick<EphemeralStore, 'publish' | 'subscribe'>;
  /** Pub/sub channel shared by every instance of this deployment. */
  readonly channel: string;
  /** The scheduler step, run before each poll's reload (and once at start). */
  readonly advance: () => Promise<unknown>;
  /** Reload this often even without a notification (default 5 s): a lost message costs seconds, not forever. */
  readonly pollIntervalMs?: number;
  /** Kids that left the set (revoked or retired): verification caches must forget their tokens. */
  readonly onKeysRemoved?: (kids: readonly string[]) => void;
  readonly onEvent?: (event: LiveKeySetEvent) => void;
  /**
   * Fail closed after this long without reading the table (default: 30 s, or three polls if
   * longer): a set that may miss a revocation or a retirement is not used to sign or verify.
   */
  readonly staleAfterMs?: number;
  /** Monotonic milliseconds for the staleness (tests); default performance.now. */
  readonly elapsed?: () => number;
  /** Called when the set goes stale, so cached verifications are dropped too. */
  readonly onStale?: () => void;
}

export type LiveKeySetEvent =
  | { readonly event: 'keys.changed'; readonly kids: readonly string[]; readonly signer: string }
  | { readonly event: 'keys.unreadable'; readonly reason: string }
  | { readonly event: 'keys.reload_failed'; readonly error: unknown }
  | { readonly event: 'keys.publish_failed'; readonly error: unknown };

/**
 * The stored keys as this instance signs and verifies with them, swapped whole when the table
 * changes: a request sees the old set or the new one, never a mix. Changes arrive by the
 * ephemeral store's pub/sub (milliseconds) and by polling (every few seconds, which also runs the
 * scheduler), so every instance follows without a restart.
 */
export interface LiveKeySet {
  current(): KeySet;
  /** The live keys and their creation times (key-age metric). */
  keys(): StoredKeySetResult['keys'];
  /** Re-reads the table now; resolves once the set is current. */
  reload(): Promise<void>;
  /** Tells every instance (this one included) to reload. */
  announce(): Promise<void>;
  close(): Promise<void>;
}

const fingerprint = (rows: readonly { kid: string; state: string; revokedAt: Date | null }[]): string =>
  rows.map((r) => `${r.kid}:${r.state}:${r.revokedAt === null ? '' : 'revoked'}`).join(',');

/** Startup refuses what it cannot open: a wrong KEK or an altered row is a configuration problem to fix now. */
function startupError(result: StoredKeySetResult): ConfigError {
  const lines = result.problems.map((p) => `${KEK_VARIABLE}: ${p.message}`);
  if (result.keySet === undefined && lines.length === 0) lines.push('signing keys: the store holds no active key');
  return new ConfigError(lines);
}

export async function startLiveKeySet(deps: LiveKeySetDeps): Promise<LiveKeySet> {
  const pollIntervalMs = deps.pollIntervalMs ?? 5_000;
  const staleAfterMs = deps.staleAfterMs ?? Math.max(30_000, 3 * pollIntervalMs);
  const elapsed = deps.elapsed ?? (() => performance.now());
  let confirmedAt = elapsed();
  let stale = false;
  let current: StoredKeySetResult & { keySet: KeySet };
  let seen = '';

  const load = async (startup: boolean): Promise<void> => {
    const rows = await deps.store.list();
    const print = fingerprint(rows);
    if (!startup && print === seen) {
      confirm();
      return;
    }
    const result = await buildStoredKeySet(rows, deps.kek);
    if (startup && (result.keySet === undefined || result.problems.length > 0)) throw startupError(result);
    for (const p of result.problems) deps.onEvent?.({ event: 'keys.unreadable', reason: p.message });
    // No active key that opens (a moment between two transactions, or an altered row): keep
    // signing with what we have rather than with nothing; the next poll tries again.
    if (result.keySet === undefined) return;
    const before = startup ? [] : current.keys.map((k) => k.kid);
    current = result as StoredKeySetResult & { keySet: KeySet };
    seen = print;
    confirm();
    const now = new Set(result.keys.map((k) => k.kid));
    const removed = before.filter((kid) => !now.has(kid));
    if (removed.length > 0) deps.onKeysRemoved?.(removed);
    if (!startup) deps.onEvent?.({ event: 'keys.changed', kids: [...now], signer: result.keySet.signer.kid });
  };

  function confirm(): void {
    confirmedAt = elapsed();
    stale = false;
  }

  const reload = coalescedReload(() => load(false));
  const reloadQuietly = (): void => {
    reload().catch((error: unknown) => deps.onEvent?.({ event: 'keys.reload_failed', error }));
  };

  // Subscribe before loading: a change committed after the load started arrives on the feed.
  const subscription: Subscription = await deps.feed.subscribe(deps.channel, { onMessage: reloadQuietly, onResubscribed: reloadQuietly });
  try {
    await deps.advance();
    await load(true);
  } catch (error) {
    await subscription.close();
    throw error;
  }

  let polling = false;
  const timer = setInterval(() => {
    if (polling) return;
    polling = true;
    deps
      .advance()
      .catch((error: unknown) => deps.onEvent?.({ event: 'keys.reload_failed', error }))
      .then(() => reload())
      .catch((error: unknown) => deps.onEvent?.({ event: 'keys.reload_failed', error }))
      .finally(() => {
        polling = false;
      });
  }, pollIntervalMs);
  timer.unref();

  return {
    current() {
      if (elapsed() - confirmedAt > staleAfterMs) {
        if (!stale) {
          stale = true;
          deps.onStale?.();
        }
        throw new StoreUnavailableError(`signing keys not confirmed from the store for over ${Math.round(staleAfterMs / 1000)} s`);
      }
      return current.keySet;
    },
    keys: () => current.keys,
    reload,
    async announce() {
      await reload();
      try {
        await deps.feed.publish(deps.channel, 'changed');
      } catch (error) {
        // Durable already; other instances pick it up at their next poll.
        deps.onEvent?.({ event: 'keys.publish_failed', error });
      }
    },
    async close() {
      clearInterval(timer);
      await subscription.close();
    },
  };
}
