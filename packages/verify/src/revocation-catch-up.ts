import { readBoundedJson } from './bounded-json.js';
import { decodeRevocationEntries, type RevocationEntry } from './revocation-feed.js';
import { secureUrl } from './secure-url.js';

/**
 * Catching up on revocations from Gatehouse itself (`GET /revocations`), so a gap in the pub/sub
 * feed (a Redis outage, a restart, a lost message) cannot leave a logged-out token accepted: the
 * verifier reads the whole live state after (re)subscribing and every `intervalMs`, and while its
 * last complete read is older than `maxStalenessMs` it refuses every token (fail closed) unless the
 * host chose `whenStale: 'accept'`.
 */
export interface CatchUpOptions {
  /** Gatehouse's catch-up endpoint: `<issuer>/revocations`. https, or http on loopback only. */
  readonly url: string | URL;
  /** One of Gatehouse's GATEHOUSE_REVOCATION_FEED_SECRETS, sent as `Authorization: Bearer`. */
  readonly secret: string;
  /** Full read this often even when the feed looks healthy (default 30,000 ms, as the server). */
  readonly intervalMs?: number;
  /** Older than this, the state is stale (default 60,000 ms: one failed read is tolerated). */
  readonly maxStalenessMs?: number;
  /** Stale: `refuse` every token (default; adapters answer 503) or `accept` on what is known. */
  readonly whenStale?: 'refuse' | 'accept';
  /** Per request (default 5,000 ms). */
  readonly timeoutMs?: number;
  readonly fetch?: typeof globalThis.fetch;
  /** Wall clock in ms (injectable for tests). */
  readonly now?: () => number;
  readonly onEvent?: (event: CatchUpEvent) => void;
}

export type CatchUpEvent =
  | { readonly event: 'revocations.caught_up'; readonly entries: number; readonly pages: number }
  | { readonly event: 'revocations.catch_up_failed'; readonly error: unknown; readonly stalenessMs: number };

export interface CatchUp {
  /**
   * One complete read (joining one in flight); resolves whether it succeeded, never rejects.
   * `afterResubscribe`: a read in flight may have started before the link came back and miss
   * what was published in the gap, so one more read is queued after it (at most one).
   */
  run(afterResubscribe?: boolean): Promise<boolean>;
  /** Ms since the last complete read started; Infinity before the first. */
  staleness(): number;
  /** Stale and configured to refuse. */
  refusing(): boolean;
  close(): void;
}

export const DEFAULT_MAX_STALENESS_MS = 60_000;

export function positiveMs(value: number | undefined, fallback: number, name: string): number {
  const ms = value ?? fallback;
  if (!(Number.isFinite(ms) && ms > 0)) throw new TypeError(`${name} must be a positive number of ms`);
  return ms;
}

export function refusesWhenStale(whenStale: unknown, name: string): boolean {
  if (whenStale !== undefined && whenStale !== 'refuse' && whenStale !== 'accept') throw new TypeError(`${name} must be "refuse" or "accept"`);
  return whenStale !== 'accept';
}

const MAX_PAGES = 1000;
const MAX_PAGE_CHARS = 1024 * 1024;
/** After a failed read, the next attempt comes sooner than the interval, but no sooner than this. */
const RETRY_MS = 5_000;

export function startCatchUp(options: CatchUpOptions, onEntries: (entries: readonly RevocationEntry[]) => void): CatchUp {
  const url = secureUrl(options.url, 'catchUp.url');
  if (typeof options.secret !== 'string' || options.secret.length === 0) throw new TypeError('catchUp.secret is required');
  const intervalMs = positiveMs(options.intervalMs, 30_000, 'catchUp.intervalMs');
  const maxStalenessMs = positiveMs(options.maxStalenessMs, DEFAULT_MAX_STALENESS_MS, 'catchUp.maxStalenessMs');
  const timeoutMs = positiveMs(options.timeoutMs, 5_000, 'catchUp.timeoutMs');
  // A healthy cycle reaches intervalMs + timeoutMs of staleness before its read lands: a smaller
  // bound would refuse every token for part of every cycle.
  if (maxStalenessMs <= intervalMs + timeoutMs) throw new TypeError('catchUp.maxStalenessMs must be greater than intervalMs + timeoutMs');
  const refuseWhenStale = refusesWhenStale(options.whenStale, 'catchUp.whenStale');
  const fetchImpl = options.fetch ?? globalThis.fetch;
  const now = options.now ?? Date.now;
  const authorization = `Bearer ${options.secret}`;

  let syncedAt = Number.NEGATIVE_INFINITY;
  let inflight: Promise<boolean> | undefined;
  let queued: Promise<boolean> | undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let closed = false;

  async function readAll(): Promise<{ entries: number; pages: number }> {
    let after: string | undefined;
    let entries = 0;
    for (let pages = 1; pages <= MAX_PAGES; pages++) {
      const pageUrl = new URL(url);
      if (after !== undefined) pageUrl.searchParams.set('after', after);
      // A redirect could take the secret to plain http or elsewhere: refuse rather than follow.
      const response = await fetchImpl(pageUrl, {
        headers: { authorization, accept: 'application/json' },
        redirect: 'error',
        signal: AbortSignal.timeout(timeoutMs),
      });
      const body = (await readBoundedJson(response, MAX_PAGE_CHARS, 'revocations')) as { entries?: unknown; next?: unknown } | null;
      if (typeof body !== 'object' || body === null || !Array.isArray(body.entries) || !(body.next === null || typeof body.next === 'string')) {
        throw new Error('revocations answered something else than a page');
      }
      const page = decodeRevocationEntries(body.entries);
      onEntries(page);
      entries += page.length;
      if (body.next === null) return { entries, pages };
      if (body.next === after) throw new Error('revocations repeated a page');
      after = body.next;
    }
    throw new Error(`revocations: more than ${MAX_PAGES} pages`);
  }

  function schedule(delayMs: number): void {
    if (closed) return;
    clearTimeout(timer);
    timer = setTimeout(() => void run(), delayMs);
    timer.unref();
  }

  function run(afterResubscribe = false): Promise<boolean> {
    if (inflight !== undefined && !afterResubscribe) return inflight;
    if (inflight !== undefined) {
      queued ??= inflight.then(() => {
        queued = undefined;
        return run();
      });
      return queued;
    }
    // Whatever was committed before this moment is in the pages read after it.
    const startedAt = now();
    inflight = readAll()
      .then(
        ({ entries, pages }) => {
          syncedAt = Math.max(syncedAt, startedAt);
          options.onEvent?.({ event: 'revocations.caught_up', entries, pages });
          schedule(intervalMs);
          return true;
        },
        (error: unknown) => {
          options.onEvent?.({ event: 'revocations.catch_up_failed', error, stalenessMs: now() - syncedAt });
          schedule(Math.min(intervalMs, RETRY_MS));
          return false;
        },
      )
      .finally(() => {
        inflight = undefined;
      });
    return inflight;
  }

  const staleness = (): number => now() - syncedAt;
  return {
    run,
    staleness,
    refusing: () => refuseWhenStale && staleness() > maxStalenessMs,
    close() {
      closed = true;
      clearTimeout(timer);
    },
  };
}
