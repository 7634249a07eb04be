import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { calculateJwkThumbprint, exportJWK, generateKeyPair } from 'jose';
import { DEVELOPMENT_MARKER, readSigningKeyFile, type PrivateSigningJwk } from './signing-key-file.js';

export const DEVELOPMENT_KEY_FILE = 'signing-keys.json';

/** A fresh Ed25519 signing key with an RFC 7638 thumbprint as `kid`. */
export async function generateSigningJwk(): Promise<PrivateSigningJwk> {
  const { privateKey } = await generateKeyPair('EdDSA', { crv: 'Ed25519', extractable: true });
  const jwk = await exportJWK(privateKey);
  const kid = await calculateJwkThumbprint(jwk);
  return { ...jwk, kid, alg: 'EdDSA', use: 'sig' };
}

/**
 * Development only: loads the key persisted under the data directory, creating it on first run,
 * so tokens survive a restart. The file is marked so production mode refuses it.
 */
export async function loadOrCreateDevelopmentKeys(dataDir: string): Promise<{ keys: PrivateSigningJwk[]; path: string; created: boolean }> {
  const path = join(dataDir, DEVELOPMENT_KEY_FILE);
  const exists = await readFile(path).then(
    () => true,
    (error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return false;
      throw error;
    },
  );
  if (exists) return { keys: await readSigningKeyFile(path, { production: false, variable: 'development key file' }), path, created: false };
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  const jwk = await generateSigningJwk();
  // 'wx' fails if another process created it meanwhile; then read theirs.
  try {
    await writeFile(path, `${JSON.stringify({ [DEVELOPMENT_MARKER]: true, keys: [jwk] }, null, 2)}\n`, { flag: 'wx', mode: 0o600 });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    return { keys: await readSigningKeyFile(path, { production: false, variable: 'development key file' }), path, created: false };
  }
  await chmod(path, 0o600);
  return { keys: [jwk], path, created: true };
}
