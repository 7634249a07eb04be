import type { AccessTokenClaims } from './access-token-claims.js';
import { createAccessTokenVerifier, type VerificationKeySource } from './access-token-verifier.js';
import { ALGORITHMS, isAlgorithm, type Algorithm } from './algorithms.js';
import { InvalidTokenError, RevocationsStaleError } from './errors.js';
import { staticKeySource, type JsonWebKeySet } from './jwks.js';
import { toPrincipal, type Principal } from './principal.js';
import { remoteKeySource, type JwksEvent, type RemoteJwksOptions, type RemoteKeySource } from './remote-jwks.js';
import { startCatchUp, type CatchUp, type CatchUpOptions } from './revocation-catch-up.js';
import { watchFeedLink, type LinkWatchOptions } from './revocation-link-watch.js';
import {
  decodeRevocationMessage,
  redisRevocationFeed,
  RevocationList,
  type RedisFeedOptions,
  type RevocationEntry,
  type RevocationFeed,
} from './revocation-feed.js';

interface CommonOptions {
  /** The issuer exactly as Gatehouse names itself (`iss`, GATEHOUSE_ISSUER). */
  readonly issuer: string;
  /**
   * Required, no default: this service's identifier, its resource registered with Gatehouse
   * (GATEHOUSE_RESOURCES; clients ask for `resource=<it>`, RFC 8707), or GATEHOUSE_AUDIENCE to accept
   * Gatehouse's default tokens. A token must name it (or one of them) in `aud`; a token for another
   * service is refused.
   */
  readonly audience: string | readonly string[];
  /** Pinned algorithms (default EdDSA, ES256, RS256): a token or key with any other is refused. */
  readonly algorithms?: readonly Algorithm[];
  /** Seconds of leeway on exp/nbf/iat, 0–30 (default 5). */
  readonly clockTolerance?: number;
  /** Refuse tokens whose `exp - iat` exceeds this many seconds (default 3600; Gatehouse issues 900). */
  readonly maxTokenLifetime?: number;
  /** Verified tokens remembered until their exp (default 10,000; 0 disables). */
  readonly cacheSize?: number;
  /** Tuning of the remote JWKS cache (jwksUri only). */
  readonly jwksCache?: Omit<RemoteJwksOptions, 'algorithms'>;
  /** Token time in ms (injectable for tests). */
  readonly now?: () => number;
}

export type VerifierOptions = CommonOptions &
  ({ readonly jwksUri: string | URL; readonly jwks?: undefined } | { readonly jwks: JsonWebKeySet; readonly jwksUri?: undefined });

export type RevocationOptions = (RedisFeedOptions | { readonly feed: RevocationFeed }) &
  (
    | {
        /**
         * Catch up from Gatehouse (`GET /revocations`) after (re)subscribing and every `intervalMs`,
         * and refuse tokens while the state is older than `maxStalenessMs`.
         */
        readonly catchUp: CatchUpOptions;
      }
    | ({
        /**
         * The explicit opt-out: only what the feed delivers is known, and a revocation published
         * while the link was down is missed. The link being down is then the staleness: beyond
         * `maxStalenessMs` tokens are refused unless `whenStale: 'accept'`.
         */
        readonly catchUp: false;
      } & LinkWatchOptions)
  );

export interface RevocationSubscription {
  /** Entries currently held (they expire with the tokens they could match). */
  readonly entries: number;
  /**
   * Ms since the last complete catch-up started (Infinity before the first); with `catchUp: false`,
   * ms the feed link has been down (0 while up). Above `maxStalenessMs` the verifier refuses
   * tokens (unless `whenStale: 'accept'`).
   */
  readonly staleness: number;
  close(): Promise<void>;
}

export interface Verifier {
  /** Resolves to the caller's principal, or rejects with `InvalidTokenError` / `KeysUnavailableError`. */
  verify(token: string): Promise<Principal>;
  /**
   * Honour Gatehouse revocations (logout, session and token revocation, log out everywhere) within
   * the feed's delivery time. Pub/sub loses what is published while the link is down: give
   * `catchUp` so the verifier reads the live state from Gatehouse after any gap and fails closed
   * while it cannot, or `catchUp: false` to opt out (TypeError if neither). Resolves after the
   * first catch-up was attempted (a failure leaves it stale).
   */
  subscribeRevocations(options: RevocationOptions): Promise<RevocationSubscription>;
  /**
   * The largest `staleness` of the subscriptions (ms; Infinity before the first catch-up);
   * undefined without any. For the host's readiness check and metrics.
   */
  revocationStaleness(): number | undefined;
  /** Forget cached verifications (revocations are checked on every call regardless). */
  clearCache(): void;
  readonly keys: VerificationKeySource;
  /** Ends every revocation subscription. */
  close(): Promise<void>;
}

const PRUNE_INTERVAL_MS = 60_000;

/**
 * A verifier for Gatehouse access tokens, for services other than Gatehouse. It runs the server's
 * own verification module (RFC 9068 `typ`, pinned algorithms, iss, aud, exp/nbf/iat, required
 * claims) with keys from the issuer's JWKS, and returns a typed principal.
 *
 * @example
 * const verifier = createVerifier({
 *   issuer: 'https://auth.example.com',
 *   audience: 'https://auth.example.com',
 *   jwksUri: 'https://auth.example.com/.well-known/jwks.json',
 * });
 * const principal = await verifier.verify(token); // principal.subject, principal.scopes.has('profile')
 */
export function createVerifier(options: VerifierOptions): Verifier {
  const algorithms = options.algorithms ?? ALGORITHMS;
  if (algorithms.length === 0 || !algorithms.every(isAlgorithm)) throw new TypeError(`algorithms must be a non-empty subset of ${ALGORITHMS.join(', ')}`);
  if ((options.jwksUri === undefined) === (options.jwks === undefined)) throw new TypeError('give exactly one of jwksUri and jwks');
  // A key gone from the JWKS (revoked, retired) takes its cached verifications with it.
  const onJwksEvent = (event: JwksEvent): void => {
    if (event.event === 'jwks.fetched' && event.removed.length > 0) core.clearCache();
    options.jwksCache?.onEvent?.(event);
  };
  const remote: RemoteKeySource | undefined =
    options.jwksUri === undefined ? undefined : remoteKeySource(options.jwksUri, { ...options.jwksCache, algorithms, onEvent: onJwksEvent });
  const keys: VerificationKeySource = remote ?? staticKeySource(options.jwks as JsonWebKeySet, algorithms);
  const now = options.now ?? Date.now;
  const core = createAccessTokenVerifier({
    issuer: options.issuer,
    audience: options.audience,
    keys: () => keys,
    maxLifetimeSeconds: options.maxTokenLifetime ?? 3600,
    clockToleranceSeconds: options.clockTolerance ?? 5,
    cacheSize: options.cacheSize ?? 10_000,
    now,
  });
  // Cached claims are the same frozen object each time, so their principal is one WeakMap lookup away.
  const principals = new WeakMap<AccessTokenClaims, Principal>();
  const revoked = new RevocationList();
  /** Signing keys revoked on the feed (kid → until): their tokens are refused before any cache. */
  const revokedKeys = new Map<string, number>();
  const onKeyRevoked = (kid: string, until: number): void => {
    // A catch-up repeats what is known already: refetch only for news.
    if ((revokedKeys.get(kid) ?? 0) >= until) return;
    revokedKeys.set(kid, until);
    core.clearCache();
    void remote?.refresh();
  };
  const onEntries = (entries: readonly RevocationEntry[]): void => {
    for (const entry of entries) {
      if (entry.kind === 'key') onKeyRevoked(entry.id, entry.until);
      else revoked.add(entry);
    }
  };
  const subscriptions = new Set<{ close(): Promise<void>; readonly freshness: Pick<CatchUp, 'staleness' | 'refusing'> }>();
  let pruner: ReturnType<typeof setInterval> | undefined;

  const principalOf = (claims: AccessTokenClaims): Principal => {
    if (subscriptions.size > 0) {
      for (const { freshness } of subscriptions) {
        if (freshness.refusing()) throw new RevocationsStaleError(`revocation state not confirmed for ${freshness.staleness()} ms`);
      }
      const reason = revoked.reasonRevoked(claims, now());
      if (reason !== undefined) throw new InvalidTokenError(reason);
    }
    let principal = principals.get(claims);
    if (principal === undefined) {
      principal = toPrincipal(claims);
      principals.set(claims, principal);
    }
    return principal;
  };

  const verifier: Verifier = {
    // One promise per call: the core answers synchronously unless the JWKS must be fetched.
    verify(token) {
      try {
        if (revokedKeys.size > 0 && signedByRevokedKey(token, revokedKeys, now())) throw new InvalidTokenError('signing key revoked');
        const checked = core.check(token);
        return checked instanceof Promise ? checked.then(principalOf) : Promise.resolve(principalOf(checked));
      } catch (error) {
        return Promise.reject(error);
      }
    },

    async subscribeRevocations(revocationOptions) {
      const feed = 'feed' in revocationOptions ? revocationOptions.feed : redisRevocationFeed(revocationOptions);
      // Options are checked before anything connects; the feed is subscribed before the first read,
      // so whatever commits while it reads arrives on the feed.
      const catchUpOption: unknown = revocationOptions.catchUp;
      // Silently missing revocations is a choice the host must make, not a default.
      if (catchUpOption !== false && (typeof catchUpOption !== 'object' || catchUpOption === null)) {
        throw new TypeError('subscribeRevocations needs catchUp: { url, secret } (or catchUp: false to opt out of the catch-up)');
      }
      const catchUp = revocationOptions.catchUp === false ? undefined : startCatchUp(revocationOptions.catchUp, onEntries);
      const linkWatch = revocationOptions.catchUp === false ? watchFeedLink(revocationOptions, now) : undefined;
      let link: { close(): Promise<void> };
      try {
        link = await feed.subscribe(
          (message) => onEntries(decodeRevocationMessage(message)),
          () => {
            linkWatch?.back();
            void catchUp?.run(true);
          },
          () => linkWatch?.lost(),
        );
      } catch (error) {
        catchUp?.close();
        throw error;
      }
      const inner = {
        freshness: (catchUp ?? linkWatch) as Pick<CatchUp, 'staleness' | 'refusing'>,
        close: async () => {
          catchUp?.close();
          await link.close();
        },
      };
      subscriptions.add(inner);
      await catchUp?.run();
      if (pruner === undefined) {
        pruner = setInterval(() => {
          revoked.prune(now());
          for (const [kid, until] of revokedKeys) if (until <= now()) revokedKeys.delete(kid);
        }, PRUNE_INTERVAL_MS);
        pruner.unref();
      }
      return {
        get entries() {
          return revoked.size;
        },
        get staleness() {
          return inner.freshness.staleness();
        },
        async close() {
          if (!subscriptions.delete(inner)) return;
          await inner.close();
          if (subscriptions.size === 0 && pruner !== undefined) {
            clearInterval(pruner);
            pruner = undefined;
          }
        },
      };
    },

    revocationStaleness() {
      const all = [...subscriptions].map(({ freshness }) => freshness.staleness());
      return all.length === 0 ? undefined : Math.max(...all);
    },
    clearCache: () => core.clearCache(),
    keys,
    async close() {
      await Promise.all([...subscriptions].map((s) => s.close()));
      subscriptions.clear();
      if (pruner !== undefined) clearInterval(pruner);
      pruner = undefined;
    },
  };
  return verifier;
}

/** The token's header `kid` (unverified: only used to refuse), checked against the revoked keys. */
function signedByRevokedKey(token: string, revokedKeys: ReadonlyMap<string, number>, now: number): boolean {
  const dot = token.indexOf('.');
  if (dot <= 0) return false;
  try {
    const { kid } = JSON.parse(Buffer.from(token.slice(0, dot), 'base64url').toString('utf8')) as { kid?: unknown };
    const until = typeof kid === 'string' ? revokedKeys.get(kid) : undefined;
    return until !== undefined && until > now;
  } catch {
    return false;
  }
}
