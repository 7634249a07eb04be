import { importPublicJwk, type Algorithm } from './algorithms.js';
import type { VerificationKey, VerificationKeySource } from './access-token-verifier.js';

/** A JSON Web Key Set (RFC 7517 §5) as fetched or configured: members are checked on import. */
export interface JsonWebKeySet {
  readonly keys: readonly unknown[];
}

export interface ImportedKeys {
  readonly keys: ReadonlyMap<string, VerificationKey>;
  /** One line per member left out, for the log (`kid` and why; never key material). */
  readonly skipped: readonly string[];
}

const MAX_KEYS = 100;

/**
 * Imports the usable members of a JWKS: public keys of the allowed algorithms only (see
 * `importPublicJwk`). A member that cannot be used is left out, not fatal, so one odd key the
 * issuer publishes for someone else does not take verification down. A duplicated `kid` drops
 * every member carrying it, since we could not tell which key a token means.
 */
export function importJwks(jwks: unknown, algorithms: readonly Algorithm[]): ImportedKeys {
  if (typeof jwks !== 'object' || jwks === null || !Array.isArray((jwks as { keys?: unknown }).keys)) {
    throw new TypeError('a JWKS is an object with a "keys" array');
  }
  const members = (jwks as JsonWebKeySet).keys;
  if (members.length > MAX_KEYS) throw new TypeError(`a JWKS of more than ${MAX_KEYS} keys is refused`);
  const keys = new Map<string, VerificationKey>();
  const duplicated = new Set<string>();
  const skipped: string[] = [];
  for (const [index, member] of members.entries()) {
    const imported = importPublicJwk(member, algorithms);
    if (!imported.ok) {
      skipped.push(`keys[${index}]: ${imported.reason}`);
      continue;
    }
    if (keys.has(imported.kid) || duplicated.has(imported.kid)) {
      duplicated.add(imported.kid);
      keys.delete(imported.kid);
      skipped.push(`keys[${index}]: duplicate kid`);
      continue;
    }
    keys.set(imported.kid, Object.freeze({ kid: imported.kid, alg: imported.alg, key: imported.key }));
  }
  return { keys, skipped };
}

/** A fixed key source: for services configured with the issuer's JWKS instead of its URL. */
export function staticKeySource(jwks: JsonWebKeySet, algorithms: readonly Algorithm[]): VerificationKeySource {
  const { keys } = importJwks(jwks, algorithms);
  return Object.freeze({ algorithms: Object.freeze([...algorithms]), find: (kid: string) => keys.get(kid) });
}
