import { readFile, stat } from 'node:fs/promises';
import type { JWK } from 'jose';
import { ConfigError } from '../errors/errors.js';
import { validatePrivateSigningJwk, type SigningAlgorithm } from './jwk-validation.js';

/** Marks a key file written by `development-keys.ts`; production refuses to sign with it. */
export const DEVELOPMENT_MARKER = 'gatehouse_development_only';

export type PrivateSigningJwk = JWK & { kid: string; alg: SigningAlgorithm };

/**
 * Reads and validates a private JWKS file (`{"keys":[…]}`). Every problem is reported at once,
 * one line each, prefixed with the variable that named the file.
 */
export async function readSigningKeyFile(path: string, options: { production: boolean; variable?: string }): Promise<PrivateSigningJwk[]> {
  const variable = options.variable ?? 'GATEHOUSE_SIGNING_KEYS';
  const fail = (message: string): never => {
    throw new ConfigError([`${variable}: ${message}`]);
  };
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    return fail(`cannot read ${path} (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  // Collected, not thrown one by one: the operator sees every problem in one start attempt.
  const problems: string[] = [];
  if (options.production && process.platform !== 'win32') {
    const { mode } = await stat(path);
    // A private key readable by group or others is as good as published.
    if ((mode & 0o077) !== 0) problems.push(`${variable}: ${path} is readable by other users (mode ${(mode & 0o777).toString(8)}); run chmod 600 on it`);
  }
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch {
    throw new ConfigError([...problems, `${variable}: ${path} is not valid JSON`]);
  }
  if (typeof document !== 'object' || document === null || !Array.isArray((document as { keys?: unknown }).keys)) {
    throw new ConfigError([...problems, `${variable}: ${path} must be a JWKS document {"keys":[…]}`]);
  }
  if (options.production && (document as Record<string, unknown>)[DEVELOPMENT_MARKER] === true) {
    problems.push(`${variable}: ${path} holds generated development keys; create production keys (see README, "Production checklist")`);
  }
  const keys = (document as { keys: unknown[] }).keys;
  if (keys.length === 0) problems.push(`${variable}: ${path} holds no keys`);
  problems.push(...keys.flatMap((k, i) => validatePrivateSigningJwk(k, `keys[${i}]`).map((p) => `${variable}: ${p}`)));
  const kids = keys.map((k) => (k as { kid?: unknown } | null)?.kid);
  const duplicate = kids.find((kid, i) => kids.indexOf(kid) !== i);
  if (duplicate !== undefined) problems.push(`${variable}: kid ${JSON.stringify(duplicate)} appears twice`);
  if (problems.length > 0) throw new ConfigError(problems);
  return keys as PrivateSigningJwk[];
}
