import { DEFAULT_MAX_STALENESS_MS, positiveMs, refusesWhenStale } from './revocation-catch-up.js';

/**
 * Without a catch-up, what the verifier knows is only as good as the feed link: while it is down,
 * revocations published meanwhile are lost. So the link being down is the staleness, and beyond
 * `maxStalenessMs` tokens are refused, as with a failing catch-up, unless the host chose `accept`.
 */
export interface LinkWatchOptions {
  /** Link down longer than this: stale (default 60,000 ms). */
  readonly maxStalenessMs?: number;
  /** Stale: `refuse` every token (default; adapters answer 503) or `accept` on what is known. */
  readonly whenStale?: 'refuse' | 'accept';
}

export interface LinkWatch {
  /** Ms the link has been down; 0 while it is up. */
  staleness(): number;
  refusing(): boolean;
  lost(): void;
  back(): void;
}

export function watchFeedLink(options: LinkWatchOptions, now: () => number): LinkWatch {
  const maxStalenessMs = positiveMs(options.maxStalenessMs, DEFAULT_MAX_STALENESS_MS, 'maxStalenessMs');
  const refuseWhenStale = refusesWhenStale(options.whenStale, 'whenStale');
  let downSince: number | undefined;
  const staleness = (): number => (downSince === undefined ? 0 : now() - downSince);
  return {
    staleness,
    refusing: () => refuseWhenStale && staleness() > maxStalenessMs,
    lost() {
      downSince ??= now();
    },
    back() {
      downSince = undefined;
    },
  };
}
