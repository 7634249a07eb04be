/**
 * @gatehouse/verify: verify Gatehouse access tokens in other services. The adapters live in
 * `@gatehouse/verify/fastify`, `/express` and `/hono`; everything not exported here is private
 * (`@gatehouse/verify/internal` is what the Gatehouse server itself shares, with no promise).
 */
export { createVerifier, type Verifier, type VerifierOptions, type RevocationOptions, type RevocationSubscription } from './verifier.js';
export type { Principal, PrincipalCore } from './principal.js';
export type { AccessTokenClaims } from './access-token-claims.js';
export { VerificationError, InvalidTokenError, KeysUnavailableError, RevocationsStaleError, type VerificationErrorCode } from './errors.js';
export { ALGORITHMS, type Algorithm, type PublicKeyLike } from './algorithms.js';
export { remoteKeySource, type RemoteJwksOptions, type RemoteKeySource, type JwksEvent } from './remote-jwks.js';
export { importJwks, staticKeySource, type JsonWebKeySet } from './jwks.js';
export { type CatchUpOptions, type CatchUpEvent } from './revocation-catch-up.js';
export { redisRevocationFeed, type RevocationFeed, type RedisFeedOptions } from './revocation-feed.js';
export type { Checks, ProblemBody, AdapterOptions } from './requirement.js';
export { ACR_VALUES, assuranceLevelOf, type Authentication, type AuthenticationRequirement, type AssuranceLevel } from './authentication.js';
