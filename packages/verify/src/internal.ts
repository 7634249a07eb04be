/**
 * What the Gatehouse server shares with this package, so that both define each concept once: the
 * verification core, the claims, the principal builder, the credential reader, the revocation list.
 * Not part of the public API: no semver promise, and resource servers should not need any of it.
 */
export {
  createAccessTokenVerifier,
  type AccessTokenVerifier,
  type AccessTokenVerifierOptions,
  type VerificationKey,
  type VerificationKeySource,
} from './access-token-verifier.js';
export { ACCESS_TOKEN_TYP, scopesOf, type RevocableClaims } from './access-token-claims.js';
export { toPrincipal } from './principal.js';
export { createVerificationCache, type VerificationCache } from './verification-cache.js';
export { authorizationHeaders, queryOf, readBearerCredential, type BearerCredential, type CredentialSource } from './bearer-credential.js';
export { authenticate, compileChecks, refusalOf, type CheckedPrincipal, type CheckedRequirement, type Refusal, type Outcome } from './requirement.js';
export { apiKeyRevocationId, decodeRevocationMessage, RevocationList, type RevocationEntry } from './revocation-feed.js';
export { freshnessSeconds } from './remote-jwks.js';
export { isUuid } from './uuid.js';
export {
  ACR_VALUES,
  assuranceLevelOf,
  checkAuthenticationRequirement,
  stepUpChallengeParameters,
  stepUpRefusal,
  type AssuranceLevel,
  type Authentication,
  type AuthenticationRequirement,
} from './authentication.js';
export { toKeyObject } from './algorithms.js';
