import type { Config } from '../config/config.js';
import type { EphemeralStore } from '../stores/ephemeral/ephemeral-store.js';
import { loadOrCreateDevelopmentKek } from './development-kek.js';
import { parseKeyEncryptionKey, type KeyEncryptionKey } from './key-encryption.js';
import { lifecycleTimings } from './key-lifecycle.js';
import { createKeyManagement, type KeyManagement } from './key-management.js';
import { startLiveKeySet, type LiveKeySet, type LiveKeySetEvent } from './live-key-set.js';
import type { SigningKeyStore } from './signing-key-store.js';

/** Signing keys from the store (GATEHOUSE_KEY_SOURCE=store): the live set and its lifecycle. */
export interface StoredKeys {
  readonly live: LiveKeySet;
  readonly management: KeyManagement;
  /** Where the key-encryption key came from, for the banner. */
  readonly kekSource: { readonly kind: 'environment' } | { readonly kind: 'development'; readonly path: string; readonly created: boolean };
  close(): Promise<void>;
}

export interface StoredKeysDeps {
  readonly config: Pick<Config, 'keyEncryptionKey' | 'dataDir' | 'jwksMaxAgeSeconds' | 'accessTokenTtlSeconds' | 'keyRotationDays'>;
  readonly store: SigningKeyStore;
  readonly feed: Pick<EphemeralStore, 'publish' | 'subscribe'>;
  readonly now: () => number;
  readonly pollIntervalMs?: number;
  readonly onKeysRemoved: (kids: readonly string[]) => void;
  /** The live set could not be confirmed for too long: cached verifications must go (fail closed). */
  readonly onStale?: () => void;
  /** A key was revoked by this process: spread the news beyond the deployment (the SDK's feed). */
  readonly onRevoked?: (kid: string) => Promise<void>;
  readonly onEvent: (event: LiveKeySetEvent) => void;
}

/** Pub/sub channel for key changes, beside the revocations' (same prefix, same Redis). */
export const KEYS_CHANNEL = 'signing-keys';

/**
 * Opens the stored keys: the KEK (the variable, or in development a generated file), the
 * scheduler (a first key on an empty store; due transitions), the live set. Startup refuses a
 * wrong KEK or an altered row with a ConfigError naming GATEHOUSE_KEY_ENCRYPTION_KEY.
 */
export async function startStoredKeys(deps: StoredKeysDeps): Promise<StoredKeys> {
  let kek: KeyEncryptionKey;
  let kekSource: StoredKeys['kekSource'];
  if (deps.config.keyEncryptionKey !== undefined) {
    kek = parseKeyEncryptionKey(deps.config.keyEncryptionKey);
    kekSource = { kind: 'environment' };
  } else {
    // loadConfig requires the variable in production; only development gets here.
    const dev = await loadOrCreateDevelopmentKek(deps.config.dataDir);
    kek = dev.kek;
    kekSource = { kind: 'development', path: dev.path, created: dev.created };
  }
  let live: LiveKeySet | undefined;
  const management = createKeyManagement({
    store: deps.store,
    kek,
    timings: lifecycleTimings({
      jwksMaxAgeSeconds: deps.config.jwksMaxAgeSeconds,
      accessTokenTtlSeconds: deps.config.accessTokenTtlSeconds,
      rotationDays: deps.config.keyRotationDays,
    }),
    now: deps.now,
    // Before the live set exists (its first scheduler step), it loads afterwards anyway.
    changed: async () => live?.announce(),
    ...(deps.onRevoked === undefined ? {} : { revoked: deps.onRevoked }),
  });
  live = await startLiveKeySet({
    store: deps.store,
    kek,
    feed: deps.feed,
    channel: KEYS_CHANNEL,
    advance: () => management.advance(),
    ...(deps.pollIntervalMs === undefined ? {} : { pollIntervalMs: deps.pollIntervalMs }),
    onKeysRemoved: deps.onKeysRemoved,
    ...(deps.onStale === undefined ? {} : { onStale: deps.onStale }),
    onEvent: deps.onEvent,
  });
  const started = live;
  return { live: started, management, kekSource, close: () => started.close() };
}
