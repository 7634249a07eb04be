import { randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ConfigError } from '../errors/errors.js';

/**
 * Development only: a secret generated once in the data directory (mode 0600) and read back on
 * every start, so what it protects (sealed keys, API key digests) survives a restart. Production
 * never gets here: loadConfig requires the variable there. The file is checked like the variable.
 */
export async function loadOrCreateDevelopmentSecret(
  dataDir: string,
  file: string,
  variable: string,
  problemOf: (value: string) => string | undefined,
): Promise<{ value: string; path: string; created: boolean }> {
  const path = join(dataDir, file);
  const read = async (): Promise<string> => {
    const value = (await readFile(path, 'utf8')).trim();
    const problem = problemOf(value);
    if (problem !== undefined) throw new ConfigError([`${variable}: the development secret ${path} ${problem}`]);
    return value;
  };
  try {
    return { value: await read(), path, created: false };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  // Redrawn in the (one in millions) case the check would refuse its own draw at the next start.
  let value = randomBytes(32).toString('base64url');
  while (problemOf(value) !== undefined) value = randomBytes(32).toString('base64url');
  try {
    // 'wx': another process creating it meanwhile wins, and we read theirs.
    await writeFile(path, `${value}\n`, { flag: 'wx', mode: 0o600 });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    return { value: await read(), path, created: false };
  }
  await chmod(path, 0o600);
  return { value, path, created: true };
}
