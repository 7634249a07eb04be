import { ALGORITHMS, type Algorithm } from './algorithms.js';
import type { VerificationKey, VerificationKeySource } from './access-token-verifier.js';
import { KeysUnavailableError } from './errors.js';
import { importJwks } from './jwks.js';
import { readBoundedJson } from './bounded-json.js';
import { secureUrl } from './secure-url.js';

/*
 * Hand-rolled rather than jose's `createRemoteJWKSet`, because that one neither honours the
 * response's Cache-Control (it uses a fixed cacheMaxAge) nor serves the last good keys when a
 * refetch fails: a brief issuer outage would turn every token with an unseen kid, or every token
 * once the cache aged out, into a 401. Key rotation (issue 6) is timed from the JWKS max-age, so
 * the verifier must use that number.
 */

export interface RemoteJwksOptions {
  /** Algorithms to import keys for (default EdDSA, ES256, RS256); keys of other algorithms are left out. */
  readonly algorithms?: readonly Algorithm[];
  /** Cache-Control max-age is clamped to [min, max] (default 30 s – 3600 s). */
  readonly minMaxAgeSeconds?: number;
  readonly maxMaxAgeSeconds?: number;
  /** Lifetime when the response carries no max-age (default 300 s, Gatehouse's own). */
  readonly defaultMaxAgeSeconds?: number;
  /** A token with an unknown kid refetches at most once per cooldown (default 30 s). */
  readonly cooldownSeconds?: number;
  /** How long after expiry the last good keys still verify while refetches fail (default 600 s). */
  readonly maxStaleSeconds?: number;
  /** After a failed fetch, no new attempt for this long (default 5 s), so an outage is not hammered. */
  readonly retryAfterErrorSeconds?: number;
  /** Per fetch (default 5,000 ms). */
  readonly timeoutMs?: number;
  readonly fetch?: typeof globalThis.fetch;
  /** Wall clock in ms (injectable for tests). */
  readonly now?: () => number;
  readonly onEvent?: (event: JwksEvent) => void;
}

export type JwksEvent =
  /** `removed`: kids the previous response had and this one has not (retired or revoked keys). */
  | {
      readonly event: 'jwks.fetched';
      readonly keys: number;
      readonly maxAgeSeconds: number;
      readonly skipped: readonly string[];
      readonly removed: readonly string[];
    }
  | { readonly event: 'jwks.fetch_failed'; readonly error: unknown; readonly serving: 'stale' | 'nothing' };

export interface RemoteKeySource extends VerificationKeySource {
  /** Fetches now (joining a fetch in flight); never rejects: failures go to `onEvent`. */
  refresh(): Promise<void>;
  /** Fetch attempts so far (for tests and metrics). */
  readonly fetches: number;
}

interface Loaded {
  readonly keys: ReadonlyMap<string, VerificationKey>;
  readonly freshUntil: number;
  readonly staleUntil: number;
}

const MAX_BODY_CHARS = 512 * 1024;

/**
 * Keys from the issuer's `jwks_uri`, cached per the response's `Cache-Control: max-age` (bounded).
 * A known kid is answered synchronously from the cache; past max-age it still answers at once and
 * refreshes in the background. An unknown kid refetches once per cooldown (a flood of garbage kids
 * makes one fetch, not one per token); concurrent misses share the fetch in flight. When the issuer
 * is unreachable the last good keys keep verifying for `maxStaleSeconds`, then the source refuses
 * with `KeysUnavailableError`.
 *
 * @example
 * const keys = remoteKeySource('https://auth.example.com/.well-known/jwks.json');
 */
export function remoteKeySource(uri: string | URL, options: RemoteJwksOptions = {}): RemoteKeySource {
  const url = secureUrl(uri, 'jwksUri');
  const algorithms = Object.freeze([...(options.algorithms ?? ALGORITHMS)]);
  const seconds = (name: keyof RemoteJwksOptions, fallback: number): number => {
    const value = (options[name] as number | undefined) ?? fallback;
    if (!(Number.isFinite(value) && value >= 0)) throw new TypeError(`${name} must be a non-negative number`);
    return value;
  };
  const minMaxAge = seconds('minMaxAgeSeconds', 30);
  const maxMaxAge = seconds('maxMaxAgeSeconds', 3600);
  const defaultMaxAge = seconds('defaultMaxAgeSeconds', 300);
  const cooldownMs = seconds('cooldownSeconds', 30) * 1000;
  const maxStaleMs = seconds('maxStaleSeconds', 600) * 1000;
  const retryAfterErrorMs = seconds('retryAfterErrorSeconds', 5) * 1000;
  const timeoutMs = seconds('timeoutMs', 5_000);
  if (minMaxAge > maxMaxAge) throw new TypeError('minMaxAgeSeconds must not exceed maxMaxAgeSeconds');
  const fetchImpl = options.fetch ?? globalThis.fetch;
  const now = options.now ?? Date.now;

  let loaded: Loaded | undefined;
  let inflight: Promise<void> | undefined;
  let lastAttemptAt = Number.NEGATIVE_INFINITY;
  let lastFailureAt = Number.NEGATIVE_INFINITY;
  let lastError: unknown;
  let fetches = 0;

  async function load(): Promise<void> {
    const response = await fetchImpl(url, {
      headers: { accept: 'application/jwk-set+json, application/json' },
      // A JWKS that redirects could send us to plain http or elsewhere: refuse rather than follow.
      redirect: 'error',
      signal: AbortSignal.timeout(timeoutMs),
    });
    const { keys, skipped } = importJwks(await readBoundedJson(response, MAX_BODY_CHARS, 'JWKS'), algorithms);
    const maxAge = Math.min(maxMaxAge, Math.max(minMaxAge, freshnessSeconds(response.headers, defaultMaxAge)));
    const at = now();
    const removed = loaded === undefined ? [] : [...loaded.keys.keys()].filter((kid) => !keys.has(kid));
    loaded = { keys, freshUntil: at + maxAge * 1000, staleUntil: at + maxAge * 1000 + maxStaleMs };
    lastFailureAt = Number.NEGATIVE_INFINITY;
    options.onEvent?.({ event: 'jwks.fetched', keys: keys.size, maxAgeSeconds: maxAge, skipped, removed });
  }

  /** One fetch at a time; after a failure none for `retryAfterErrorMs`. Never rejects. */
  function refresh(): Promise<void> {
    if (inflight !== undefined) return inflight;
    if (now() - lastFailureAt < retryAfterErrorMs) return Promise.resolve();
    lastAttemptAt = now();
    fetches++;
    inflight = load()
      .catch((error: unknown) => {
        lastFailureAt = now();
        lastError = error;
        const serving = loaded !== undefined && now() < loaded.staleUntil ? 'stale' : 'nothing';
        options.onEvent?.({ event: 'jwks.fetch_failed', error, serving });
      })
      .finally(() => {
        inflight = undefined;
      });
    return inflight;
  }

  async function findAfterUnknownKid(kid: string): Promise<VerificationKey | undefined> {
    if (inflight !== undefined) await inflight;
    else if (now() - lastAttemptAt >= cooldownMs) await refresh();
    else return undefined;
    return usable()?.keys.get(kid);
  }

  async function findAfterRequiredFetch(kid: string): Promise<VerificationKey | undefined> {
    await refresh();
    const current = usable();
    if (current === undefined) {
      const why = loaded === undefined ? 'JWKS never fetched' : 'JWKS stale beyond maxStaleSeconds';
      throw new KeysUnavailableError(`${why}: ${describe(lastError)}`, lastError);
    }
    return current.keys.get(kid);
  }

  const usable = (): Loaded | undefined => (loaded !== undefined && now() < loaded.staleUntil ? loaded : undefined);

  return {
    algorithms,
    find(kid) {
      const current = usable();
      if (current === undefined) return findAfterRequiredFetch(kid);
      if (now() >= current.freshUntil) void refresh();
      const key = current.keys.get(kid);
      return key ?? findAfterUnknownKid(kid);
    },
    refresh,
    get fetches() {
      return fetches;
    },
  };
}

/**
 * RFC 9111 §4.2.1 freshness lifetime for a private cache: `max-age` minus `Age`; `no-store` and
 * `no-cache` mean "revalidate every time", which the lower bound turns into the minimum max-age.
 */
export function freshnessSeconds(headers: Headers, fallback: number): number {
  const directives = (headers.get('cache-control') ?? '')
    .toLowerCase()
    .split(',')
    .map((d) => d.trim());
  if (directives.includes('no-store') || directives.includes('no-cache')) return 0;
  const maxAges = directives.filter((d) => d.startsWith('max-age=')).map((d) => d.slice('max-age='.length).replace(/^"(.*)"$/, '$1'));
  if (maxAges.length === 0 || !maxAges.every((v) => /^\d{1,10}$/.test(v))) return fallback;
  const maxAge = Math.min(...maxAges.map(Number));
  const age = /^\d{1,10}$/.test(headers.get('age') ?? '') ? Number(headers.get('age')) : 0;
  return Math.max(0, maxAge - age);
}

function describe(error: unknown): string {
  if (error === undefined) return 'no attempt allowed yet';
  return error instanceof Error ? `${error.name}: ${error.message}`.slice(0, 200) : 'fetch failed';
}
