import { KEK_VARIABLE, openUnderKek, sealUnderKek, type KeyEncryptionKey } from '../keys/key-encryption.js';

// The factor id is authenticated data: a row cannot take another row's sealed secret.
const associated = (factorId: string): Buffer => Buffer.from(`gatehouse totp secret v1\0${factorId}`, 'utf8');

/** A TOTP secret that did not open: another KEK, an altered or moved row. Never carries the secret. */
export class TotpSecretUnsealError extends Error {
  readonly factorId: string;
  readonly reason: 'malformed' | 'wrong_kek' | 'tampered';
  constructor(factorId: string, reason: TotpSecretUnsealError['reason']) {
    super(
      reason === 'wrong_kek'
        ? `TOTP factor ${factorId} was sealed under another key-encryption key: wrong ${KEK_VARIABLE}`
        : `TOTP factor ${factorId}: the sealed secret is ${reason === 'malformed' ? 'not in the v1 format' : 'altered or moved from another row'}`,
    );
    this.name = 'TotpSecretUnsealError';
    this.factorId = factorId;
    this.reason = reason;
  }
}

/** AES-256-GCM under the KEK, bound to the factor id (`v1.<kek id>.<iv>.<ciphertext‖tag>`). */
export function sealTotpSecret(kek: KeyEncryptionKey, factorId: string, secret: Uint8Array): string {
  return sealUnderKek(kek, associated(factorId), Buffer.from(secret));
}

/** Opens what {@link sealTotpSecret} sealed for this factor, or throws {@link TotpSecretUnsealError}. */
export function openTotpSecret(kek: KeyEncryptionKey, factorId: string, sealed: string): Uint8Array {
  const opened = openUnderKek(kek, associated(factorId), sealed);
  if ('problem' in opened) throw new TotpSecretUnsealError(factorId, opened.problem);
  return new Uint8Array(opened.plain);
}
