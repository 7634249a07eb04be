import { ConfigError } from '../errors/errors.js';
import { KEK_VARIABLE } from '../keys/key-encryption.js';
import type { FactorKekSource } from './factor-kek.js';
import type { FactorStore } from './factor-store.js';
import { openTotpSecret, TotpSecretUnsealError } from './totp-secret.js';

/**
 * At start, as for stored signing keys: confirmed TOTP factors that this KEK does not open (none
 * configured, another one, an altered row) would lock their users out at the second step, so the
 * server refuses to start, naming the variable (never a secret). One factor per KEK id is opened.
 */
export async function assertSealedFactorsOpen(store: Pick<FactorStore, 'sealedSamples'>, kekSource: FactorKekSource): Promise<void> {
  const samples = await store.sealedSamples();
  if (samples.length === 0) return;
  const kek = await kekSource();
  if (kek === undefined) {
    throw new ConfigError([`${KEK_VARIABLE}: required in production: confirmed TOTP factors exist, and their secrets are sealed under it`]);
  }
  const problems: string[] = [];
  for (const { id, sealedSecret } of samples) {
    try {
      openTotpSecret(kek, id, sealedSecret);
    } catch (error) {
      if (!(error instanceof TotpSecretUnsealError)) throw error;
      problems.push(`${KEK_VARIABLE}: ${error.message}`);
    }
  }
  if (problems.length > 0) throw new ConfigError(problems);
}
