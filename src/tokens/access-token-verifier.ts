import { decodeProtectedHeader, errors as joseErrors, jwtVerify, type JWTPayload, type ProtectedHeaderParameters } from 'jose';
import { InvalidTokenError } from '../errors/errors.js';
import type { VerificationKey } from '../keys/key-set.js';
import { ACCESS_TOKEN_TYP, type AccessTokenClaims } from './access-token-claims.js';
import { createVerificationCache, type VerificationCache } from './verification-cache.js';
import { isUuid } from '../ids/uuid.js';

/** Where verification keys come from: the server's own key set, or (in the SDK) a JWKS. */
export interface VerificationKeySource {
  readonly algorithms: readonly string[];
  find(kid: string): VerificationKey | undefined;
}

export interface AccessTokenVerifierOptions {
  readonly issuer: string;
  /** Accepted audiences: a token must name at least one. */
  readonly audience: string | readonly string[];
  readonly keys: () => VerificationKeySource;
  /** Upper bound on `exp - iat`; a token claiming a longer life was not minted by us. */
  readonly maxLifetimeSeconds: number;
  /** Leeway for clock skew on exp/nbf/iat; at most 30 s. Default 5 s. */
  readonly clockToleranceSeconds?: number;
  /** Verified tokens remembered (expiry-aware); 0 turns the cache off. Default 10,000. */
  readonly cacheSize?: number;
  readonly now?: () => number;
}

export interface AccessTokenVerifier {
  /** Resolves to the verified claims or rejects with {@link InvalidTokenError}. */
  verify(token: string): Promise<AccessTokenClaims>;
  /** Forget cached verifications, e.g. after a key was removed. */
  clearCache(): void;
}

const MAX_CLOCK_TOLERANCE = 30;
const MAX_TOKEN_LENGTH = 8192;
const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

/**
 * Verifies Gatehouse access tokens as RFC 9068 §4 and RFC 8725 ask, as a chain of named checks:
 * shape → header (typ, pinned alg, kid from our own keys only) → signature → registered claims
 * (iss, aud, exp, nbf, iat) → Gatehouse claims (sub, jti, client_id, scope, lifetime).
 *
 * Not checked here: whether the user still exists or the token was revoked. That is the
 * authenticator's job, because it needs stores.
 *
 * @example
 * const verifier = createAccessTokenVerifier({ issuer, audience, keys: () => keySet, maxLifetimeSeconds: 900 });
 * const claims = await verifier.verify(token);
 */
export function createAccessTokenVerifier(options: AccessTokenVerifierOptions): AccessTokenVerifier {
  const tolerance = options.clockToleranceSeconds ?? 5;
  if (tolerance < 0 || tolerance > MAX_CLOCK_TOLERANCE) throw new TypeError(`clockToleranceSeconds must be 0–${MAX_CLOCK_TOLERANCE}`);
  if (!(options.maxLifetimeSeconds > 0)) throw new TypeError('maxLifetimeSeconds must be positive');
  const audiences = typeof options.audience === 'string' ? [options.audience] : [...options.audience];
  if (audiences.length === 0) throw new TypeError('audience must name at least one value');
  const now = options.now ?? Date.now;
  const cache: VerificationCache<AccessTokenClaims> = createVerificationCache(options.cacheSize ?? 10_000);

  async function verifyUncached(token: string): Promise<AccessTokenClaims> {
    checkShape(token);
    const header = readHeader(token);
    const source = options.keys();
    const key = selectKey(header, source);
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, key.key, {
        algorithms: [key.alg],
        issuer: options.issuer,
        audience: audiences,
        typ: ACCESS_TOKEN_TYP,
        clockTolerance: tolerance,
        // Also rejects an `iat` in the future (beyond the tolerance).
        maxTokenAge: options.maxLifetimeSeconds + tolerance,
        requiredClaims: ['exp', 'iat', 'sub', 'jti', 'client_id'],
        currentDate: new Date(now()),
      }));
    } catch (error) {
      throw new InvalidTokenError(joseReason(error), error);
    }
    return checkGatehouseClaims(payload, options.maxLifetimeSeconds);
  }

  return {
    async verify(token) {
      const nowSeconds = now() / 1000;
      const cached = cache.get(token, nowSeconds - tolerance);
      if (cached !== undefined) return cached;
      const claims = await verifyUncached(token);
      cache.set(token, claims, claims.exp);
      return claims;
    },
    clearCache: () => cache.clear(),
  };
}

function checkShape(token: string): void {
  if (token.length > MAX_TOKEN_LENGTH) throw new InvalidTokenError('token too long');
  if (!COMPACT_JWS.test(token)) throw new InvalidTokenError('not a compact JWS');
}

function readHeader(token: string): ProtectedHeaderParameters {
  try {
    return decodeProtectedHeader(token);
  } catch (error) {
    throw new InvalidTokenError('unreadable protected header', error);
  }
}

/** The key comes from our own set by `kid`; its algorithm must be the header's and be pinned. */
function selectKey(header: ProtectedHeaderParameters, source: VerificationKeySource): VerificationKey {
  if (typeof header.alg !== 'string' || !source.algorithms.includes(header.alg)) {
    throw new InvalidTokenError(`algorithm not allowed: ${String(header.alg).slice(0, 16)}`);
  }
  if (typeof header.kid !== 'string' || header.kid.length === 0) throw new InvalidTokenError('kid missing');
  const key = source.find(header.kid);
  if (key === undefined) throw new InvalidTokenError('unknown kid');
  if (key.alg !== header.alg) throw new InvalidTokenError('alg does not match the key');
  return key;
}

function checkGatehouseClaims(payload: JWTPayload, maxLifetimeSeconds: number): AccessTokenClaims {
  const { sub, jti, exp, iat } = payload;
  if (typeof sub !== 'string' || !isUuid(sub)) throw new InvalidTokenError('sub is not a user id');
  if (typeof jti !== 'string' || jti.length === 0 || jti.length > 128) throw new InvalidTokenError('jti invalid');
  if (typeof payload.client_id !== 'string' || payload.client_id.length === 0) throw new InvalidTokenError('client_id invalid');
  if (payload.scope !== undefined && typeof payload.scope !== 'string') throw new InvalidTokenError('scope is not a string');
  if (payload.sid !== undefined && typeof payload.sid !== 'string') throw new InvalidTokenError('sid is not a string');
  if (payload.tver !== undefined && !(Number.isSafeInteger(payload.tver) && (payload.tver as number) >= 0)) throw new InvalidTokenError('tver invalid');
  if (payload.tid !== undefined && !(typeof payload.tid === 'string' && isUuid(payload.tid))) throw new InvalidTokenError('tid is not a tenant id');
  if (payload.roles !== undefined && !isRoleList(payload.roles)) throw new InvalidTokenError('roles is not a list of role names');
  if (typeof exp !== 'number' || typeof iat !== 'number' || exp - iat > maxLifetimeSeconds) {
    throw new InvalidTokenError('lifetime longer than this issuer grants');
  }
  return Object.freeze({
    iss: payload.iss as string,
    sub,
    aud: payload.aud as string | string[],
    exp,
    iat,
    jti,
    client_id: payload.client_id,
    scope: (payload.scope as string | undefined) ?? '',
    ...(typeof payload.sid === 'string' ? { sid: payload.sid } : {}),
    ...(typeof payload.tver === 'number' ? { tver: payload.tver } : {}),
    ...(typeof payload.tid === 'string' ? { tid: payload.tid } : {}),
    ...(Array.isArray(payload.roles) ? { roles: Object.freeze([...(payload.roles as string[])]) } : {}),
  });
}

const MAX_ROLES = 64;

function isRoleList(value: unknown): value is string[] {
  return Array.isArray(value) && value.length <= MAX_ROLES && value.every((r) => typeof r === 'string' && r.length > 0 && r.length <= 64);
}

/** Log-only description of why jose refused a token. */
function joseReason(error: unknown): string {
  if (error instanceof joseErrors.JWTExpired) return 'expired';
  if (error instanceof joseErrors.JWTClaimValidationFailed) return `claim check failed: ${error.claim} (${error.reason})`;
  if (error instanceof joseErrors.JWSSignatureVerificationFailed) return 'signature verification failed';
  if (error instanceof joseErrors.JOSEAlgNotAllowed) return 'algorithm not allowed';
  if (error instanceof joseErrors.JOSENotSupported) return 'unsupported header (crit or alg)';
  if (error instanceof joseErrors.JOSEError) return `${error.code}`;
  return 'verification failed';
}
