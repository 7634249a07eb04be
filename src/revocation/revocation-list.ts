import type { AccessTokenClaims } from '../tokens/access-token-claims.js';
import type { RevocationEntry } from './revocation-entry.js';

/**
 * The in-process mirror of every revocation that can still matter, so checking a request is three
 * map lookups and no network round trip. Entries only accumulate until their `until`; adding the
 * same fact twice (from the database and from pub/sub) is harmless.
 */
export class RevocationList {
  readonly #tokens = new Map<string, number>();
  readonly #sessions = new Map<string, number>();
  readonly #users = new Map<string, { version: number; until: number }>();

  add(entry: RevocationEntry): void {
    switch (entry.kind) {
      case 'token':
        this.#tokens.set(entry.id, Math.max(entry.until, this.#tokens.get(entry.id) ?? 0));
        return;
      case 'session':
        this.#sessions.set(entry.id, Math.max(entry.until, this.#sessions.get(entry.id) ?? 0));
        return;
      case 'user': {
        const known = this.#users.get(entry.id);
        // A higher version revokes everything a lower one did; keep the highest and the latest end.
        if (known === undefined || entry.version >= known.version) {
          this.#users.set(entry.id, { version: entry.version, until: Math.max(entry.until, known?.until ?? 0) });
        }
        return;
      }
    }
  }

  /** Why the token is revoked, or undefined. Expired entries are ignored (and pruned later). */
  reasonRevoked(claims: Pick<AccessTokenClaims, 'jti' | 'sid' | 'sub' | 'tver'>, now: number): string | undefined {
    const token = this.#tokens.get(claims.jti);
    if (token !== undefined && token > now) return 'access token revoked';
    if (claims.sid !== undefined) {
      const session = this.#sessions.get(claims.sid);
      if (session !== undefined && session > now) return 'session revoked';
    }
    const user = this.#users.get(claims.sub);
    if (user !== undefined && user.until > now && (claims.tver ?? 0) < user.version) return 'tokens of the user revoked (token version)';
    return undefined;
  }

  prune(now: number): void {
    for (const [id, until] of this.#tokens) if (until <= now) this.#tokens.delete(id);
    for (const [id, until] of this.#sessions) if (until <= now) this.#sessions.delete(id);
    for (const [id, entry] of this.#users) if (entry.until <= now) this.#users.delete(id);
  }

  get size(): number {
    return this.#tokens.size + this.#sessions.size + this.#users.size;
  }
}
