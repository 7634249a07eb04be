import type { Config } from '../config/config.js';
import { loadOrCreateDevelopmentKek } from '../keys/development-kek.js';
import { parseKeyEncryptionKey, type KeyEncryptionKey } from '../keys/key-encryption.js';

/**
 * The key that seals TOTP secrets: GATEHOUSE_KEY_ENCRYPTION_KEY when set; in development without
 * it, the generated development KEK (`GATEHOUSE_DATA_DIR/key-encryption-key`, the one stored
 * signing keys use), whatever GATEHOUSE_KEY_SOURCE is, so a developer enrols TOTP with nothing to
 * configure. Production without the variable: undefined, and enrolment is refused
 * (TotpUnavailableError) rather than sealing secrets under a key kept beside the database.
 */
export async function resolveFactorKek(config: Pick<Config, 'env' | 'keyEncryptionKey' | 'dataDir'>): Promise<KeyEncryptionKey | undefined> {
  if (config.keyEncryptionKey !== undefined) return parseKeyEncryptionKey(config.keyEncryptionKey);
  if (config.env !== 'development') return undefined;
  return (await loadOrCreateDevelopmentKek(config.dataDir)).kek;
}

/** The KEK, resolved on first use only (a deployment that never uses TOTP writes no development KEK), then kept. */
export type FactorKekSource = () => Promise<KeyEncryptionKey | undefined>;

export function lazyFactorKek(config: Pick<Config, 'env' | 'keyEncryptionKey' | 'dataDir'>): FactorKekSource {
  let pending: Promise<KeyEncryptionKey | undefined> | undefined;
  return () => {
    pending ??= resolveFactorKek(config).catch((error: unknown) => {
      pending = undefined;
      throw error;
    });
    return pending;
  };
}
