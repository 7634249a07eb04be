import { randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ConfigError } from '../errors/errors.js';
import { KEK_VARIABLE, keyEncryptionKeyProblem, parseKeyEncryptionKey, type KeyEncryptionKey } from './key-encryption.js';

export const DEVELOPMENT_KEK_FILE = 'key-encryption-key';

/**
 * Development only, with stored keys and no GATEHOUSE_KEY_ENCRYPTION_KEY: a generated KEK kept
 * beside the development key file (mode 0600), so stored keys survive a restart. Production
 * never gets here: loadConfig requires the variable there.
 */
export async function loadOrCreateDevelopmentKek(dataDir: string): Promise<{ kek: KeyEncryptionKey; path: string; created: boolean }> {
  const path = join(dataDir, DEVELOPMENT_KEK_FILE);
  const read = async (): Promise<KeyEncryptionKey> => {
    const value = (await readFile(path, 'utf8')).trim();
    const problem = keyEncryptionKeyProblem(value);
    if (problem !== undefined) throw new ConfigError([`${KEK_VARIABLE}: the development key-encryption key ${path} ${problem}`]);
    return parseKeyEncryptionKey(value);
  };
  try {
    return { kek: await read(), path, created: false };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  const value = randomBytes(32).toString('base64url');
  try {
    // 'wx': another process creating it meanwhile wins, and we read theirs.
    await writeFile(path, `${value}\n`, { flag: 'wx', mode: 0o600 });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    return { kek: await read(), path, created: false };
  }
  await chmod(path, 0o600);
  return { kek: parseKeyEncryptionKey(value), path, created: true };
}
