/** RFC 9068 §2.1 `typ` header value of a JWT access token. */
export const ACCESS_TOKEN_TYP = 'at+jwt';

/** The claims Gatehouse puts in every access token (RFC 9068 §2.2). No secrets, no password data. */
export interface AccessTokenClaims {
  readonly iss: string;
  /** The user's UUID; never changes, unlike the username. */
  readonly sub: string;
  readonly aud: string | readonly string[];
  readonly exp: number;
  readonly iat: number;
  /** Unique per token; the key of the per-token deny-list. */
  readonly jti: string;
  readonly client_id: string;
  /** Space-separated granted scopes (RFC 6749 §3.3); may be empty. */
  readonly scope: string;
  /** The session this token belongs to. */
  readonly sid?: string;
  /**
   * The API key (its id, never its secret) a client-credentials token was granted with: revoking
   * the key revokes the token. Absent on every other token.
   */
  readonly akid?: string;
  /**
   * The user's token version when this token was issued; a later bump (log out everywhere, lock)
   * revokes it. Absent means 0.
   */
  readonly tver?: number;
  /** The active tenant chosen at login (a UUID); absent for a token not bound to a tenant. */
  readonly tid?: string;
  /**
   * The roles held when the token was issued: global roles plus those of the active tenant
   * (RFC 9068 §2.2.3.1 / RFC 7643 `roles`). A route asking for a fresh check re-reads them.
   */
  readonly roles?: readonly string[];
  /** RFC 8176 methods the user authenticated with (e.g. `pwd`, `otp`); absent on client-credentials tokens. */
  readonly amr?: readonly string[];
  /** The assurance level those methods reach (`urn:gatehouse:aal1` or `aal2`). */
  readonly acr?: string;
  /** When the user authenticated, seconds since the epoch; a refresh keeps it. */
  readonly auth_time?: number;
}

/** The claims a revocation can match: one token, its session, its user's token version, its API key. */
export type RevocableClaims = Pick<AccessTokenClaims, 'jti' | 'sid' | 'sub' | 'tver' | 'akid'>;

export function scopesOf(claims: Pick<AccessTokenClaims, 'scope'>): ReadonlySet<string> {
  return new Set(claims.scope.split(' ').filter((s) => s.length > 0));
}
