import type { RevocableClaims } from './access-token-claims.js';

/**
 * The Gatehouse revocation feed, read-only: the messages every Gatehouse instance publishes on
 * Redis pub/sub (`<GATEHOUSE_REDIS_KEY_PREFIX>revocations`), a JSON array of entries:
 *   {kind: 'token', id: jti, until}            one access token (RFC 7009 revoke)
 *   {kind: 'session', id: sid, until}          every token of a session (logout, device revoke)
 *   {kind: 'user', id: sub, version, until}    every token of the user with tver < version
 *   {kind: 'key', id: kid, until}              every token signed by a revoked signing key
 *   {kind: 'token', id: 'apikey:' + akid, until}  the API key itself, and every client-credentials
 *                                              token granted with it (`akid`)
 * `until` is epoch ms after which the entry can match no live token. The wire format is the
 * server's (src/revocation/revocation-entry.ts); test/sdk/revocations.test.ts pins the two together.
 */
export type RevocationEntry =
  | { readonly kind: 'token'; readonly id: string; readonly until: number }
  | { readonly kind: 'session'; readonly id: string; readonly until: number }
  | { readonly kind: 'user'; readonly id: string; readonly version: number; readonly until: number }
  /**
   * A signing key revoked (compromise): every token it signed must stop verifying. Gatehouse
   * instances learn it from their key sets; verifiers drop the kid and refetch the JWKS.
   */
  | { readonly kind: 'key'; readonly id: string; readonly until: number };

const MAX_MESSAGE_ENTRIES = 10_000;

/** Malformed messages yield no entries: a bad message must not take the subscriber down. */
export function decodeRevocationMessage(message: string): RevocationEntry[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(message);
  } catch {
    return [];
  }
  return decodeRevocationEntries(parsed);
}

/** The well-formed entries of a parsed array (a feed message, a catch-up page); nothing for anything else. */
export function decodeRevocationEntries(parsed: unknown): RevocationEntry[] {
  if (!Array.isArray(parsed) || parsed.length > MAX_MESSAGE_ENTRIES) return [];
  return parsed.filter(isEntry);
}

function isEntry(value: unknown): value is RevocationEntry {
  if (typeof value !== 'object' || value === null) return false;
  const e = value as Record<string, unknown>;
  if (typeof e.id !== 'string' || e.id.length === 0 || e.id.length > 128 || typeof e.until !== 'number' || !Number.isFinite(e.until)) return false;
  if (e.kind === 'token' || e.kind === 'session' || e.kind === 'key') return true;
  return e.kind === 'user' && Number.isSafeInteger(e.version) && (e.version as number) > 0;
}

/** The deny-list id under which an API key's revocation travels (never a `jti`: those are UUIDs). */
export const apiKeyRevocationId = (keyId: string): string => `apikey:${keyId}`;

/** The revocations heard so far, each kept until its `until`: three map lookups per request. */
export class RevocationList {
  readonly #tokens = new Map<string, number>();
  readonly #sessions = new Map<string, number>();
  readonly #users = new Map<string, { version: number; until: number }>();

  add(entry: RevocationEntry): void {
    // A revoked signing key is not a per-token fact: the key sources handle it (see the verifier).
    if (entry.kind === 'key') return;
    if (entry.kind === 'token') this.#tokens.set(entry.id, Math.max(entry.until, this.#tokens.get(entry.id) ?? 0));
    else if (entry.kind === 'session') this.#sessions.set(entry.id, Math.max(entry.until, this.#sessions.get(entry.id) ?? 0));
    else {
      const known = this.#users.get(entry.id);
      if (known === undefined || entry.version >= known.version) {
        this.#users.set(entry.id, { version: entry.version, until: Math.max(entry.until, known?.until ?? 0) });
      }
    }
  }

  reasonRevoked(claims: RevocableClaims, now: number): string | undefined {
    const token = this.#tokens.get(claims.jti);
    if (token !== undefined && token > now) return 'access token revoked';
    if (claims.akid !== undefined) {
      const key = this.#tokens.get(apiKeyRevocationId(claims.akid));
      if (key !== undefined && key > now) return 'api key of the token revoked';
    }
    if (claims.sid !== undefined) {
      const session = this.#sessions.get(claims.sid.toLowerCase());
      if (session !== undefined && session > now) return 'session revoked';
    }
    const user = this.#users.get(claims.sub.toLowerCase());
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

/**
 * Any source of feed messages: Redis below, or one a test or another transport injects. Pub/sub
 * loses what is published while the link is down; a transport that can tell calls `onLost` when
 * the link drops (with `catchUp: false`, the time down is the staleness) and `onResubscribed` when
 * it is live again (the verifier catches up at once, see `catchUp`).
 */
export interface RevocationFeed {
  subscribe(onMessage: (message: string) => void, onResubscribed?: () => void, onLost?: () => void): Promise<{ close(): Promise<void> }>;
}

export interface RedisFeedOptions {
  readonly redisUrl: string;
  /** Default "revocations", the channel Gatehouse publishes on. */
  readonly channel?: string;
  /** The deployment's GATEHOUSE_REDIS_KEY_PREFIX (default "gatehouse:"); Gatehouse prefixes the channel with it. */
  readonly prefix?: string;
}

/**
 * The Redis side of the feed, on its own connection (a subscribed connection can do nothing else).
 * ioredis is loaded only here, so services that never subscribe do not need it.
 */
export function redisRevocationFeed(options: RedisFeedOptions): RevocationFeed {
  const channel = `${options.prefix ?? 'gatehouse:'}${options.channel ?? 'revocations'}`;
  return {
    async subscribe(onMessage, onResubscribed, onLost) {
      const { Redis } = await import('ioredis');
      // Unlimited retries: the subscriber reconnects by itself after an outage. It renews the
      // subscription itself too: ioredis's autoResubscribe sends a SUBSCRIBE whose promise nobody
      // holds, so a close or an outage before its answer was an unhandled rejection in the host.
      const client = new Redis(options.redisUrl, { lazyConnect: true, maxRetriesPerRequest: null, connectTimeout: 5_000, autoResubscribe: false });
      client.on('error', () => {
        // Reconnection is ioredis's job; an unhandled 'error' event would crash the process.
      });
      client.on('message', (from: string, message: string) => {
        if (from === channel) onMessage(message);
      });
      let lost = false;
      let closed = false;
      client.on('close', () => {
        if (!lost) onLost?.();
        lost = true;
      });
      // The renewed SUBSCRIBE answered means the link is live again, and messages of the gap may be lost.
      client.on('ready', () => {
        if (!lost || closed) return;
        client.subscribe(channel).then(
          () => {
            if (closed) return;
            lost = false;
            onResubscribed?.();
          },
          // Dropped again (the next 'ready' renews it) or refused: either way the feed stays lost,
          // which the caller sees as staleness (and catches up on).
          () => undefined,
        );
      });
      try {
        await client.connect();
        await client.subscribe(channel);
      } catch (error) {
        closed = true;
        client.disconnect();
        throw error;
      }
      return {
        async close() {
          closed = true;
          client.disconnect();
        },
      };
    },
  };
}
