import { randomUUID } from 'node:crypto';
import type { KeySet } from '../keys/key-set.js';
import { ACCESS_TOKEN_TYP, ACR_VALUES, assuranceLevelOf, type Authentication } from '@gatehouse/verify/internal';
import { signCompactJws } from './jws-signature.js';

export interface AccessTokenIssuerOptions {
  readonly issuer: string;
  readonly audience: string;
  readonly keySet: () => KeySet;
  readonly ttlSeconds: number;
  readonly now?: () => number;
}

export interface IssueAccessTokenInput {
  readonly subject: string;
  readonly clientId: string;
  readonly scopes: readonly string[];
  /** The session (`sid`); none for a client-credentials token, which belongs to no session. */
  readonly sessionId?: string;
  /** The user's current token version (`tver`). */
  readonly tokenVersion: number;
  /** The active tenant (`tid`), if the session is bound to one. */
  readonly tenantId?: string;
  /** Global roles plus the active tenant's (`roles`). */
  readonly roles: readonly string[];
  /** RFC 8707: the resource server the token is for (`aud`); default the issuer's own audience. */
  readonly audience?: string;
  /** How and when the user authenticated (`amr`, `acr`, `auth_time`); none for a client-credentials token. */
  readonly authentication?: Authentication;
  /** The API key a client-credentials token is granted with (`akid`): its revocation revokes the token. */
  readonly apiKeyId?: string;
  /** Epoch ms the token must not outlive (the key's expiry or end): `exp` is the earlier of this and the lifetime. */
  readonly notAfter?: number;
}

export interface IssuedAccessToken {
  readonly token: string;
  readonly tokenId: string;
  readonly expiresIn: number;
  readonly expiresAt: number;
  readonly scope: string;
}

/** Signs with the key it was prepared with: no key-state check left to fail. */
export type IssueAccessToken = (input: IssueAccessTokenInput) => Promise<IssuedAccessToken>;

export interface AccessTokenIssuer {
  issue: IssueAccessToken;
  /**
   * Takes the signing key now (throws StoreUnavailableError when the key set is stale) and signs
   * later with it. A grant that spends something first (a refresh token) prepares before the
   * spend, so nothing after it can fail on key state.
   */
  prepare(): IssueAccessToken;
}

/**
 * Signs RFC 9068 access tokens with the active key of the key set.
 *
 * @example
 * const issuer = createAccessTokenIssuer({ issuer, audience, keySet: () => keys, ttlSeconds: 900 });
 * const { token } = await issuer.issue({ subject: user.id, clientId: 'gatehouse-cli', scopes: ['profile'], sessionId });
 */
export function createAccessTokenIssuer(options: AccessTokenIssuerOptions): AccessTokenIssuer {
  const now = options.now ?? Date.now;
  const prepare = (): IssueAccessToken => {
    const { signer } = options.keySet();
    return async (input) => {
      const iat = Math.floor(now() / 1000);
      const exp = Math.min(iat + options.ttlSeconds, input.notAfter === undefined ? Infinity : Math.floor(input.notAfter / 1000));
      const tokenId = randomUUID();
      const scope = [...new Set(input.scopes)].join(' ');
      // RFC 9068 §2.2: the registered claims first, then Gatehouse's own.
      const claims = {
        iss: options.issuer,
        sub: input.subject,
        aud: input.audience ?? options.audience,
        iat,
        exp,
        jti: tokenId,
        client_id: input.clientId,
        scope,
        ...(input.sessionId === undefined ? {} : { sid: input.sessionId }),
        ...(input.apiKeyId === undefined ? {} : { akid: input.apiKeyId }),
        tver: input.tokenVersion,
        roles: [...new Set(input.roles)],
        ...(input.tenantId === undefined ? {} : { tid: input.tenantId }),
        ...(input.authentication === undefined ? {} : authenticationClaims(input.authentication)),
      };
      const token = signCompactJws(signer.alg, signer.key, { kid: signer.kid, typ: ACCESS_TOKEN_TYP }, claims);
      return { token, tokenId, expiresIn: exp - iat, expiresAt: exp, scope };
    };
  };
  return { prepare, issue: (input) => prepare()(input) };
}

/** RFC 8176 `amr`, the level it reaches as `acr`, OIDC `auth_time`. */
function authenticationClaims(authentication: Authentication): { amr: string[]; acr: string; auth_time: number } {
  return { amr: [...authentication.methods], acr: ACR_VALUES[assuranceLevelOf(authentication.methods)], auth_time: authentication.time };
}
