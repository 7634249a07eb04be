import { loadOrCreateDevelopmentSecret } from '../config/development-secret.js';
import { KEK_VARIABLE, keyEncryptionKeyProblem, parseKeyEncryptionKey, type KeyEncryptionKey } from './key-encryption.js';

export const DEVELOPMENT_KEK_FILE = 'key-encryption-key';

/**
 * Development only, with stored keys and no GATEHOUSE_KEY_ENCRYPTION_KEY: a generated KEK kept
 * beside the development key file (mode 0600), so stored keys survive a restart. Production
 * never gets here: loadConfig requires the variable there.
 */
export async function loadOrCreateDevelopmentKek(dataDir: string): Promise<{ kek: KeyEncryptionKey; path: string; created: boolean }> {
  const { value, path, created } = await loadOrCreateDevelopmentSecret(dataDir, DEVELOPMENT_KEK_FILE, KEK_VARIABLE, keyEncryptionKeyProblem);
  return { kek: parseKeyEncryptionKey(value), path, created };
}
