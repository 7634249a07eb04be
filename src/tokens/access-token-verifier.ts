import { VerificationError } from '@gatehouse/verify';
import {
  createAccessTokenVerifier as createCoreVerifier,
  type AccessTokenVerifier as CoreAccessTokenVerifier,
  type AccessTokenVerifierOptions,
  type VerificationKeySource,
} from '@gatehouse/verify/internal';
import { InvalidTokenError } from '../errors/errors.js';

export type { AccessTokenVerifierOptions, VerificationKeySource };

/**
 * The SDK's verifier, as the server runs it: the same `verify` and `clearCache`, rejecting with the
 * server's {@link InvalidTokenError} (the server's key set never fetches, so no `check` is needed).
 */
export type AccessTokenVerifier = Pick<CoreAccessTokenVerifier, 'verify' | 'clearCache'>;

/**
 * The server's verifier is the one in `@gatehouse/verify` (packages/verify), so resource servers
 * using the SDK check tokens exactly as Gatehouse does. This wrapper only translates the package's
 * error into the server's {@link InvalidTokenError}, keeping the log-only reason, so the one error
 * table (`src/http/error-response.ts`) keeps answering 401 invalid_token.
 *
 * @example
 * const verifier = createAccessTokenVerifier({ issuer, audience, keys: () => keySet, maxLifetimeSeconds: 900 });
 * const claims = await verifier.verify(token);
 */
export function createAccessTokenVerifier(options: AccessTokenVerifierOptions): AccessTokenVerifier {
  const core = createCoreVerifier(options);
  return {
    verify: (token) =>
      core.verify(token).catch((error: unknown) => {
        if (error instanceof VerificationError) throw new InvalidTokenError(error.logReason, error.cause ?? error);
        throw error;
      }),
    clearCache: () => core.clearCache(),
  };
}

/**
 * The same verifier (one cache, one `clearCache`) accepting only tokens for `audiences`: how one
 * Gatehouse that issues tokens for several resources (RFC 8707) keeps its own API to its own
 * audience, and a library host's routes to the host's. The log reason is the core's for a wrong `aud`.
 */
export function restrictAudience(verifier: AccessTokenVerifier, audiences: readonly string[]): AccessTokenVerifier {
  const accepted = new Set(audiences);
  const forUs = (aud: string | readonly string[]): boolean => (typeof aud === 'string' ? accepted.has(aud) : aud.some((a) => accepted.has(a)));
  return {
    verify: async (token) => {
      const claims = await verifier.verify(token);
      if (!forUs(claims.aud)) throw new InvalidTokenError('claim check failed: aud (check_failed)');
      return claims;
    },
    clearCache: () => verifier.clearCache(),
  };
}
