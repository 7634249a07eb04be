import type { JWK } from 'jose';
import { jwkCreatedAtMs } from '../observability/metrics.js';
import { openPrivateJwk, KeyUnsealError, type KeyEncryptionKey } from './key-encryption.js';
import { createKeySet, type KeySet } from './key-set.js';
import { toPublicJwk, validatePrivateSigningJwk, type SigningAlgorithm } from './jwk-validation.js';
import type { StoredSigningKey } from './signing-key-store.js';

export interface StoredKeySetResult {
  /** Undefined when no active key opened: nothing to sign with. */
  readonly keySet: KeySet | undefined;
  /** The live keys in the set, with their creation time from the sealed JWK's `iat` (key-age metric). */
  readonly keys: readonly { readonly kid: string; readonly createdAtMs: number | undefined }[];
  /** Rows left out, one message each (never key material). */
  readonly problems: readonly KeyUnsealError[];
}

const sameMembers = (a: JWK, b: JWK): boolean => {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  return [...keys].every((k) => (a as Record<string, unknown>)[k] === (b as Record<string, unknown>)[k]);
};

/**
 * The key set of the live rows (pending, active, retiring; never retired or revoked): the active
 * key signs, all verify. Only what opens under the KEK counts, and the public key comes from the
 * sealed private key, not from the `public_jwk` column: someone who can write to the database but
 * lacks the KEK cannot slip in a key of their own, nor swap a row's public half.
 */
export async function buildStoredKeySet(rows: readonly StoredSigningKey[], kek: KeyEncryptionKey): Promise<StoredKeySetResult> {
  const problems: KeyUnsealError[] = [];
  const opened: { row: StoredSigningKey; jwk: JWK & { kid: string; alg: SigningAlgorithm } }[] = [];
  for (const row of rows) {
    if (row.state === 'retired' || row.revokedAt !== null) continue;
    try {
      const jwk = openPrivateJwk(kek, row.kid, row.alg, row.privateJwkSealed);
      const invalid = validatePrivateSigningJwk(jwk, `signing key ${row.kid}`);
      if (invalid.length > 0) throw new KeyUnsealError(row.kid, 'malformed', invalid.join('; '));
      const typed = jwk as JWK & { kid: string; alg: SigningAlgorithm };
      if (!sameMembers(toPublicJwk(typed), toPublicJwk({ ...row.publicJwk, kid: row.kid, alg: row.alg }))) {
        throw new KeyUnsealError(row.kid, 'tampered', `signing key ${row.kid}: the stored public key does not match the sealed private key`);
      }
      opened.push({ row, jwk: typed });
    } catch (error) {
      if (!(error instanceof KeyUnsealError)) throw error;
      problems.push(error);
    }
  }
  const active = opened.find((o) => o.row.state === 'active');
  const keys = opened.map((o) => ({ kid: o.row.kid, createdAtMs: jwkCreatedAtMs(o.jwk) ?? o.row.createdAt.getTime() }));
  if (active === undefined) return { keySet: undefined, keys, problems };
  // The signer goes first (createKeySet signs with the first key); the others only verify, so only
  // their public halves go in.
  const others = opened.filter((o) => o !== active).map((o) => toPublicJwk(o.jwk) as JWK & { kid: string; alg: SigningAlgorithm });
  return { keySet: await createKeySet([active.jwk, ...others]), keys, problems };
}
