import { ACCESS_TOKEN_TYP, type AccessTokenClaims } from './access-token-claims.js';
import { isAlgorithm, toKeyObject, verifySignature, type Algorithm, type PublicKeyLike } from './algorithms.js';
import { InvalidTokenError } from './errors.js';
import { isMethodList } from './authentication.js';
import { isUuid } from './uuid.js';
import { createVerificationCache, type VerificationCache } from './verification-cache.js';

/** A key the verifier may use: found by `kid`, used only with its own algorithm. */
export interface VerificationKey {
  readonly kid: string;
  readonly alg: string;
  readonly key: PublicKeyLike;
}

/**
 * Where verification keys come from: the server's own key set, or (in the SDK) a JWKS. `find` is
 * synchronous when the key is at hand (the server's path, and a cached JWKS) and may return a
 * promise when it must fetch; it rejects with `KeysUnavailableError` when it cannot tell.
 */
export interface VerificationKeySource {
  readonly algorithms: readonly string[];
  find(kid: string): VerificationKey | undefined | PromiseLike<VerificationKey | undefined>;
}

export interface AccessTokenVerifierOptions {
  readonly issuer: string;
  /** Accepted audiences: a token must name at least one. */
  readonly audience: string | readonly string[];
  readonly keys: () => VerificationKeySource;
  /** Upper bound on `exp - iat`; a token claiming a longer life was not minted by the issuer. */
  readonly maxLifetimeSeconds: number;
  /** Leeway for clock skew on exp/nbf/iat; at most 30 s. Default 5 s. */
  readonly clockToleranceSeconds?: number;
  /** Verified tokens remembered (expiry-aware); 0 turns the cache off. Default 10,000. */
  readonly cacheSize?: number;
  readonly now?: () => number;
}

export interface AccessTokenVerifier {
  /** Resolves to the verified claims (frozen) or rejects with a `VerificationError`. */
  verify(token: string): Promise<AccessTokenClaims>;
  /**
   * The same check without a promise when none is needed: returns the claims (a cached token, or
   * a known key) or throws; returns a promise only when the key source has to fetch.
   */
  check(token: string): AccessTokenClaims | Promise<AccessTokenClaims>;
  /** Forget cached verifications, e.g. after a key was removed. */
  clearCache(): void;
}

const MAX_CLOCK_TOLERANCE = 30;
const MAX_TOKEN_LENGTH = 8192;
const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;
const REQUIRED_CLAIMS = ['exp', 'iat', 'sub', 'jti', 'client_id', 'aud', 'iss'] as const;

/**
 * Verifies Gatehouse access tokens as RFC 9068 §4 and RFC 8725 ask, as a chain of named checks:
 * shape → header (pinned alg, kid from the trusted keys only, key's own alg, no `crit`, `typ`
 * at+jwt) → signature → registered claims (iss, aud, exp, nbf, iat) → Gatehouse claims (sub, jti,
 * client_id, scope, sid, tver, tid, roles, lifetime). This one module is what the Gatehouse server
 * and the SDK both run.
 *
 * Not checked here: whether the user still exists or the token was revoked (the server's
 * authenticator, or the SDK's revocation feed, does that).
 *
 * @example
 * const verifier = createAccessTokenVerifier({ issuer, audience, keys: () => keySet, maxLifetimeSeconds: 900 });
 * const claims = await verifier.verify(token);
 */
export function createAccessTokenVerifier(options: AccessTokenVerifierOptions): AccessTokenVerifier {
  const tolerance = options.clockToleranceSeconds ?? 5;
  if (!(tolerance >= 0 && tolerance <= MAX_CLOCK_TOLERANCE)) throw new TypeError(`clockToleranceSeconds must be 0–${MAX_CLOCK_TOLERANCE}`);
  if (!(options.maxLifetimeSeconds > 0)) throw new TypeError('maxLifetimeSeconds must be positive');
  const given: unknown[] =
    typeof options.audience === 'string' ? [options.audience] : Array.isArray(options.audience) ? [...(options.audience as unknown[])] : [];
  // No default: a verifier that accepted any audience would take a token minted for another service (RFC 8707).
  if (given.length === 0 || !given.every((a) => typeof a === 'string' && a.length > 0)) {
    throw new TypeError("audience is required: this service's identifier (non-empty strings), as Gatehouse puts it in aud");
  }
  const audiences = given as readonly string[];
  if (typeof options.issuer !== 'string' || options.issuer.length === 0) throw new TypeError('issuer is required');
  const now = options.now ?? Date.now;
  const cache: VerificationCache<AccessTokenClaims> = createVerificationCache(options.cacheSize ?? 10_000);
  const expected = { issuer: options.issuer, audiences, tolerance, maxLifetimeSeconds: options.maxLifetimeSeconds };

  /** Synchronous unless the key source has to fetch: the known-key path allocates no promise. */
  function verifyUncached(token: string): AccessTokenClaims | Promise<AccessTokenClaims> {
    checkShape(token);
    const [encodedHeader, encodedPayload, encodedSignature] = token.split('.') as [string, string, string];
    const header = readHeader(encodedHeader);
    const source = options.keys();
    const alg = checkAlgorithm(header, source);
    const found = source.find(readKid(header));
    const finish = (key: VerificationKey | undefined): AccessTokenClaims => {
      checkKey(key, alg);
      checkHeaderParameters(header);
      const signingInput = Buffer.from(token.slice(0, encodedHeader.length + 1 + encodedPayload.length), 'latin1');
      if (!verifySignature(alg, toKeyObject(key.key), signingInput, Buffer.from(encodedSignature, 'base64url'))) {
        throw new InvalidTokenError('signature verification failed');
      }
      const payload = readPayload(encodedPayload);
      checkRegisteredClaims(payload, expected, Math.floor(now() / 1000));
      return remember(token, checkGatehouseClaims(payload, options.maxLifetimeSeconds));
    };
    return isThenable(found) ? Promise.resolve(found).then(finish) : finish(found);
  }

  function remember(token: string, claims: AccessTokenClaims): AccessTokenClaims {
    cache.set(token, claims, claims.exp);
    return claims;
  }

  function check(token: string): AccessTokenClaims | Promise<AccessTokenClaims> {
    return (typeof token === 'string' ? cache.get(token, now() / 1000 - tolerance) : undefined) ?? verifyUncached(token);
  }

  return {
    check,
    verify(token) {
      try {
        return Promise.resolve(check(token));
      } catch (error) {
        return Promise.reject(error);
      }
    },
    clearCache: () => cache.clear(),
  };
}

type Json = Record<string, unknown>;

function isThenable<T>(value: T | PromiseLike<T>): value is PromiseLike<T> {
  return typeof (value as { then?: unknown } | undefined)?.then === 'function';
}

function checkShape(token: string): void {
  if (typeof token !== 'string') throw new InvalidTokenError('not a string');
  if (token.length > MAX_TOKEN_LENGTH) throw new InvalidTokenError('token too long');
  if (!COMPACT_JWS.test(token)) throw new InvalidTokenError('not a compact JWS');
  let start = 0;
  for (let dot = token.indexOf('.'); ; dot = token.indexOf('.', start)) {
    const end = dot === -1 ? token.length : dot;
    if (!isCanonicalBase64url(token, start, end)) throw new InvalidTokenError('non-canonical base64url');
    if (dot === -1) return;
    start = dot + 1;
  }
}

const BASE64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/**
 * RFC 7515 §2 / RFC 4648 §3.5: decoding ignores the unused low bits of the last character, so
 * without this each segment has up to 16 spellings of the same bytes, and anything keyed on the
 * token string (the verification cache, a deny-list, a log search) could be sidestepped.
 * Canonical = re-encoding the decoded bytes gives the same string. Checked on the last character
 * alone (the alphabet and the absence of padding are COMPACT_JWS's job) instead of decoding and
 * re-encoding: this runs for every token not in the cache.
 */
function isCanonicalBase64url(token: string, start: number, end: number): boolean {
  const length = end - start;
  if (length === 0) return true;
  const rest = length % 4;
  if (rest === 1) return false;
  if (rest === 0) return true;
  const bits = BASE64URL.indexOf(token.charAt(end - 1));
  // Two trailing characters carry one byte (4 unused bits), three carry two bytes (2 unused bits).
  return (bits & (rest === 2 ? 0x0f : 0x03)) === 0;
}

/**
 * RFC 7515 §5.2 steps 3–4: the JSON must be a plain object. Invalid UTF-8 is not refused here: the
 * header is only read for alg/kid/typ/crit and the signature covers the raw bytes, and the payload
 * is read only after the signature proved the issuer wrote it.
 */
function decodeObject(segment: string): Json | undefined {
  try {
    const value: unknown = JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'));
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Json) : undefined;
  } catch {
    return undefined;
  }
}

function readHeader(segment: string): Json {
  const header = decodeObject(segment);
  if (header === undefined) throw new InvalidTokenError('unreadable protected header');
  return header;
}

/** RFC 8725 §3.1: the algorithm must be pinned; `none` and HS256-with-a-public-key die here. */
function checkAlgorithm(header: Json, source: VerificationKeySource): Algorithm {
  const alg = header.alg;
  if (typeof alg !== 'string' || !source.algorithms.includes(alg) || !isAlgorithm(alg)) {
    throw new InvalidTokenError(`algorithm not allowed: ${String(alg).slice(0, 16)}`);
  }
  return alg;
}

function readKid(header: Json): string {
  if (typeof header.kid !== 'string' || header.kid.length === 0) throw new InvalidTokenError('kid missing');
  return header.kid;
}

/** RFC 8725 §3.10: the key comes from the trusted set by `kid` only; `jwk`, `jku`, `x5u`, `x5c` are never read. */
function checkKey(key: VerificationKey | undefined, alg: string): asserts key is VerificationKey {
  if (key === undefined) throw new InvalidTokenError('unknown kid');
  if (key.alg !== alg) throw new InvalidTokenError('alg does not match the key');
}

function checkHeaderParameters(header: Json): void {
  // RFC 7515 §4.1.11: we understand no extension, so any `crit` must be refused.
  if (header.crit !== undefined) throw new InvalidTokenError('unsupported header (crit or alg)');
  // RFC 9068 §4: typ must be at+jwt; media types compare case-insensitively, "application/" optional.
  if (typeof header.typ !== 'string' || normalizeTyp(header.typ) !== normalizeTyp(ACCESS_TOKEN_TYP)) {
    throw new InvalidTokenError('claim check failed: typ (check_failed)');
  }
}

function normalizeTyp(typ: string): string {
  const lower = typ.toLowerCase();
  return lower.startsWith('application/') ? lower.slice('application/'.length) : lower;
}

function readPayload(segment: string): Json {
  const payload = decodeObject(segment);
  if (payload === undefined) throw new InvalidTokenError('claims set is not a JSON object');
  return payload;
}

interface Expected {
  readonly issuer: string;
  readonly audiences: readonly string[];
  readonly tolerance: number;
  readonly maxLifetimeSeconds: number;
}

/** RFC 7519 §4.1 and RFC 9068 §4, in the order (and with the log reasons) jose used to report them. */
function fail(claim: string, kind: 'missing' | 'check_failed' | 'invalid'): InvalidTokenError {
  return new InvalidTokenError(`claim check failed: ${claim} (${kind})`);
}

function checkRegisteredClaims(payload: Json, expected: Expected, nowSeconds: number): void {
  for (const claim of REQUIRED_CLAIMS) if (!(claim in payload)) throw fail(claim, 'missing');
  if (payload.iss !== expected.issuer) throw fail('iss', 'check_failed');
  const aud = payload.aud;
  const audOk =
    typeof aud === 'string' ? expected.audiences.includes(aud) : Array.isArray(aud) && aud.some((a) => typeof a === 'string' && expected.audiences.includes(a));
  if (!audOk) throw fail('aud', 'check_failed');
  const { iat, nbf, exp } = payload;
  const t = expected.tolerance;
  if (typeof iat !== 'number') throw fail('iat', 'invalid');
  if (nbf !== undefined) {
    if (typeof nbf !== 'number') throw fail('nbf', 'invalid');
    if (nbf > nowSeconds + t) throw fail('nbf', 'check_failed');
  }
  if (typeof exp !== 'number') throw fail('exp', 'invalid');
  if (exp <= nowSeconds - t) throw new InvalidTokenError('expired');
  const age = nowSeconds - iat;
  // The issuer never mints tokens older than their lifetime; an iat beyond the tolerance in the future is forged or skewed.
  // The tolerance counts twice on purpose: this is jose's `maxTokenAge: lifetime + tolerance` with
  // `clockTolerance`, which the server used before, so no token valid then is refused now.
  if (age - t > expected.maxLifetimeSeconds + t) throw new InvalidTokenError('expired (iat too far in the past)');
  if (age < -t) throw fail('iat', 'check_failed');
}

const MAX_ROLES = 64;
/** An API key's id: base62, as src/apikeys/api-key-token.ts makes them (17 characters today). */
const API_KEY_ID = /^[0-9A-Za-z]{1,64}$/;

function isRoleList(value: unknown): value is string[] {
  return Array.isArray(value) && value.length <= MAX_ROLES && value.every((r) => typeof r === 'string' && r.length > 0 && r.length <= 64);
}

function checkGatehouseClaims(payload: Json, maxLifetimeSeconds: number): AccessTokenClaims {
  const { sub, jti, exp, iat, client_id, scope, sid, akid, tver, tid, roles, amr, acr, auth_time } = payload;
  if (typeof sub !== 'string' || !isUuid(sub)) throw new InvalidTokenError('sub is not a user id');
  if (typeof jti !== 'string' || jti.length === 0 || jti.length > 128) throw new InvalidTokenError('jti invalid');
  if (typeof client_id !== 'string' || client_id.length === 0) throw new InvalidTokenError('client_id invalid');
  if (scope !== undefined && typeof scope !== 'string') throw new InvalidTokenError('scope is not a string');
  if (sid !== undefined && typeof sid !== 'string') throw new InvalidTokenError('sid is not a string');
  if (akid !== undefined && !(typeof akid === 'string' && API_KEY_ID.test(akid))) throw new InvalidTokenError('akid is not an api key id');
  if (tver !== undefined && !(typeof tver === 'number' && Number.isSafeInteger(tver) && tver >= 0)) throw new InvalidTokenError('tver invalid');
  if (tid !== undefined && !(typeof tid === 'string' && isUuid(tid))) throw new InvalidTokenError('tid is not a tenant id');
  if (roles !== undefined && !isRoleList(roles)) throw new InvalidTokenError('roles is not a list of role names');
  if (amr !== undefined && !isMethodList(amr)) throw new InvalidTokenError('amr is not a list of method names');
  if (acr !== undefined && !(typeof acr === 'string' && acr.length > 0 && acr.length <= 64)) throw new InvalidTokenError('acr invalid');
  // Not compared with iat: another instance stamped it at sign-in with its own clock, and instances may be skewed.
  if (auth_time !== undefined && !(typeof auth_time === 'number' && Number.isSafeInteger(auth_time) && auth_time >= 0)) {
    throw new InvalidTokenError('auth_time invalid');
  }
  if ((amr === undefined) !== (auth_time === undefined)) throw new InvalidTokenError('amr and auth_time come together');
  if (typeof exp !== 'number' || typeof iat !== 'number' || exp - iat > maxLifetimeSeconds) {
    throw new InvalidTokenError('lifetime longer than this issuer grants');
  }
  const claims: { -readonly [K in keyof AccessTokenClaims]: AccessTokenClaims[K] } = {
    iss: payload.iss as string,
    sub,
    aud: payload.aud as string | string[],
    exp,
    iat,
    jti,
    client_id,
    scope: scope ?? '',
  };
  // Optional claims are left out rather than set to undefined, so `'sid' in claims` tells the truth.
  if (typeof sid === 'string') claims.sid = sid;
  if (typeof akid === 'string') claims.akid = akid;
  if (typeof tver === 'number') claims.tver = tver;
  if (typeof tid === 'string') claims.tid = tid;
  if (roles !== undefined) claims.roles = Object.freeze([...roles]);
  if (amr !== undefined) claims.amr = Object.freeze([...(amr as string[])]);
  if (typeof acr === 'string') claims.acr = acr;
  if (typeof auth_time === 'number') claims.auth_time = auth_time;
  return Object.freeze(claims);
}
