import { scopesOf, type AccessTokenClaims } from './access-token-claims.js';
import type { Authentication } from './authentication.js';

/**
 * What every Gatehouse principal holds, whatever credential it came by. Today that is a bearer
 * access token only; other schemes (a cookie session, an API key) would be further members of
 * {@link Principal} over this core, told apart by `via`.
 */
export interface PrincipalCore {
  /** The user's UUID (`sub`). */
  readonly subject: string;
  readonly scopes: ReadonlySet<string>;
  /** Roles held when the token was issued (`roles`); empty when the token carries none. */
  readonly roles: readonly string[];
  /** The active tenant (`tid`), when the token is bound to one. */
  readonly tenantId?: string;
  /** The session (`sid`): what a logout revokes. */
  readonly sessionId?: string;
  /** The API key a client-credentials token was granted with (`akid`): revoking the key revokes the token. */
  readonly apiKeyId?: string;
  readonly clientId: string;
  /** `jti`. */
  readonly tokenId: string;
  /** `exp`, seconds since the epoch. */
  readonly expiresAt: number;
  /**
   * How and when the user authenticated (`amr`, `auth_time`); absent when no user authenticated
   * (a client-credentials token, an API key) or the token predates the claims.
   */
  readonly authentication?: Authentication;
}

/** Who is calling, as a verified Gatehouse access token says. Frozen; shared by cached verifications. */
export interface Principal extends PrincipalCore {
  /** How the caller authenticated: an `Authorization: Bearer` access token (RFC 6750). */
  readonly via: 'bearer';
  readonly claims: AccessTokenClaims;
}

/**
 * The scopes, with no way to change them at run time either: one principal object serves every
 * cached verification of a token, so a handler that added a scope would grant it to every later
 * request. A wrapper rather than a Set subclass, which would be slower to build on every new token.
 */
class ScopeSet implements ReadonlySet<string> {
  readonly #scopes: Set<string>;
  constructor(scopes: ReadonlySet<string>) {
    this.#scopes = scopes as Set<string>;
  }
  has(scope: string): boolean {
    return this.#scopes.has(scope);
  }
  get size(): number {
    return this.#scopes.size;
  }
  forEach(callback: (value: string, key: string, set: ReadonlySet<string>) => void, thisArg?: unknown): void {
    this.#scopes.forEach((value) => callback.call(thisArg, value, value, this));
  }
  entries(): SetIterator<[string, string]> {
    return this.#scopes.entries();
  }
  keys(): SetIterator<string> {
    return this.#scopes.keys();
  }
  values(): SetIterator<string> {
    return this.#scopes.values();
  }
  [Symbol.iterator](): SetIterator<string> {
    return this.#scopes.values();
  }
}

const NO_ROLES: readonly string[] = Object.freeze([]);

export function toPrincipal(claims: AccessTokenClaims): Principal {
  const principal: { -readonly [K in keyof Principal]: Principal[K] } = {
    via: 'bearer',
    subject: claims.sub,
    scopes: Object.freeze(new ScopeSet(scopesOf(claims))),
    roles: claims.roles ?? NO_ROLES,
    clientId: claims.client_id,
    tokenId: claims.jti,
    expiresAt: claims.exp,
    claims,
  };
  if (claims.tid !== undefined) principal.tenantId = claims.tid;
  if (claims.sid !== undefined) principal.sessionId = claims.sid;
  if (claims.akid !== undefined) principal.apiKeyId = claims.akid;
  if (claims.amr !== undefined && claims.auth_time !== undefined) principal.authentication = Object.freeze({ methods: claims.amr, time: claims.auth_time });
  return Object.freeze(principal);
}
