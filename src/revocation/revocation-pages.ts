import { ValidationError } from '../errors/errors.js';
import { isUuid } from '../ids/uuid.js';
import { REVOCATION_SLACK_MS, type RevocationEntry } from './revocation-entry.js';
import type { RevocationCursor, RevocationStore } from './revocation-store.js';

/**
 * What resource servers read to catch up after any gap in their feed (`GET /revocations`): the
 * whole live revocation state from the database, not what happened since a time. Entries older
 * than one access-token lifetime (+ slack) can match no token, so the state is bounded by the
 * revocations of that window; it is read in pages of at most MAX_PAGE entries.
 *
 * Why not a `since` cursor: `revoked_at` is stamped before its transaction commits, so a
 * revocation committed late can carry a time a reader already passed, and the reader's and the
 * database's clocks would have to agree. A snapshot of the live state has neither problem; a
 * reader that subscribes to the feed before reading hears whatever commits while it reads.
 */
export interface RevocationPage {
  readonly entries: readonly RevocationEntry[];
  /** Pass as `after` for the next page; undefined on the last one. */
  readonly next: string | undefined;
}

export interface RevocationPages {
  /** @throws ValidationError for a cursor this server did not hand out. */
  page(after: string | undefined, limit: number): Promise<RevocationPage>;
}

export const MAX_PAGE = 1000;
const KINDS: readonly RevocationEntry['kind'][] = ['key', 'session', 'token', 'user'];

/** `<kind>:<id>` of an entry; kinds have no colon, so the first one splits. */
export function parseCursor(value: string): RevocationCursor {
  const colon = value.indexOf(':');
  const kind = value.slice(0, colon) as RevocationEntry['kind'];
  const id = value.slice(colon + 1);
  // Session and user ids are uuid columns: anything else would be a query error, not an empty page.
  const valid = colon > 0 && KINDS.includes(kind) && id.length > 0 && id.length <= 128 && (kind === 'token' || kind === 'key' || isUuid(id));
  if (!valid) throw new ValidationError([{ field: 'after', message: 'must be a cursor returned as next' }]);
  return { kind, id };
}

export function createRevocationPages(deps: {
  readonly store: Pick<RevocationStore, 'pageLive'>;
  readonly accessTokenTtlMs: number;
  readonly now: () => number;
}): RevocationPages {
  const windowMs = deps.accessTokenTtlMs + REVOCATION_SLACK_MS;
  return {
    async page(after, limit) {
      if (!(Number.isInteger(limit) && limit >= 1 && limit <= MAX_PAGE)) throw new TypeError(`limit must be 1–${MAX_PAGE}`);
      const cursor = after === undefined ? undefined : parseCursor(after);
      const { entries, more } = await deps.store.pageLive(new Date(deps.now()), windowMs, cursor, limit);
      const last = entries.at(-1);
      return { entries, next: more && last !== undefined ? `${last.kind}:${last.id}` : undefined };
    },
  };
}
