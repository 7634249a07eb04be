/**
 * @gatehouse/verify: verify Gatehouse access tokens in other services. The adapters live in
 * `@gatehouse/verify/fastify`, `/express` and `/hono`; everything not exported here is private.
 */
export { createVerifier, type Verifier, type VerifierOptions, type RevocationOptions, type RevocationSubscription } from './verifier.js';
export type { Principal } from './principal.js';
export { VerificationError, InvalidTokenError, KeysUnavailableError, RevocationsStaleError, type VerificationErrorCode } from './errors.js';
export { ALGORITHMS, type Algorithm, type PublicKeyLike } from './algorithms.js';
export { remoteKeySource, freshnessSeconds, type RemoteJwksOptions, type RemoteKeySource, type JwksEvent } from './remote-jwks.js';
export { importJwks, staticKeySource, type JsonWebKeySet } from './jwks.js';
export { type CatchUpOptions, type CatchUpEvent } from './revocation-catch-up.js';
export { decodeRevocationMessage, redisRevocationFeed, RevocationList, type RevocationEntry, type RevocationFeed, type RedisFeedOptions } from './revocation-feed.js';
export { authorizationHeaders, queryOf, readBearerCredential, type BearerCredential, type CredentialSource } from './bearer-credential.js';
export { authenticate, compileChecks, refusalOf, type CheckedPrincipal, type CheckedRequirement, type Refusal, type Checks, type Outcome, type ProblemBody, type AdapterOptions } from './requirement.js';
// The verification core, which the Gatehouse server itself runs (src/tokens/access-token-verifier.ts).
export {
  createAccessTokenVerifier,
  type AccessTokenVerifier,
  type AccessTokenVerifierOptions,
  type VerificationKey,
  type VerificationKeySource,
} from './access-token-verifier.js';
export { ACCESS_TOKEN_TYP, scopesOf, type AccessTokenClaims } from './access-token-claims.js';
export { createVerificationCache, type VerificationCache } from './verification-cache.js';
export { isUuid } from './uuid.js';
