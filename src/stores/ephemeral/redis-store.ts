import { Redis } from 'ioredis';
import { StoreUnavailableError } from '../../errors/errors.js';
import { assertTtlMs, notACounterError, type ChannelListener, type EphemeralStore, type Subscription } from './ephemeral-store.js';

/** Where Redis is: a redis:// or rediss:// URL, or the primary a set of Sentinels names. */
export type RedisTarget =
  | { readonly url: string; readonly sentinel?: never }
  | { readonly sentinel: { readonly sentinels: readonly { readonly host: string; readonly port: number }[]; readonly name: string }; readonly url?: never };

export type RedisStoreOptions = RedisTarget & RedisConnectionOptions;

export interface RedisConnectionOptions {
  /** Prepended to every key, so several deployments (or test runs) can share one Redis. */
  keyPrefix: string;
  /** Called with a redacted reason each time the connection fails; the caller logs it. */
  onConnectionError?: ((reason: string) => void) | undefined;
  /** How often a subscription proves it is live with a PING on its connection (default 1 s). */
  subscriptionHeartbeatMs?: number;
}

/**
 * INCR and "set the expiry if the key has none" in one script, so two callers can never both
 * see a fresh key, and a crash between INCR and PEXPIRE cannot leave a counter that never
 * expires (the shape of @fastify/rate-limit's RedisStore). `ttl == -1` means "exists without
 * expiry", which after INCR is exactly "this call created it".
 */
const INCREMENT_LUA = `
local value = redis.call('INCR', KEYS[1])
local ttl = redis.call('PTTL', KEYS[1])
if ttl == -1 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return { value, ttl }
`;

/** A store that does not answer within this is treated as down: callers must not hang on it. */
const COMMAND_TIMEOUT_MS = 1_000;
const CONNECT_TIMEOUT_MS = 2_000;
const MAX_RECONNECT_DELAY_MS = 2_000;

interface GatehouseScripts {
  gatehouseIncrement(key: string, ttlMs: number): Promise<[number, number]>;
}

/**
 * The Redis {@link EphemeralStore}, shared by every Gatehouse instance pointed at the same Redis.
 *
 * Commands fail fast instead of queueing while Redis is unreachable (`enableOfflineQueue: false`,
 * one retry, a 1 s command timeout) and reject with `StoreUnavailableError`; meanwhile the client
 * keeps reconnecting in the background with a capped backoff. Creation waits for the first
 * connection attempt but does not fail when Redis is down, so a Redis restart and a Gatehouse
 * start can happen in any order; call `ping()` to refuse to boot without Redis.
 *
 * @example
 * const store = await createRedisStore({ url: config.redisUrl, keyPrefix: config.redisKeyPrefix });
 * await store.ping();
 */
export async function createRedisStore(options: RedisStoreOptions): Promise<EphemeralStore> {
  const { keyPrefix } = options;
  const secrets = options.url === undefined ? [] : credentialsOf(options.url);
  const redact = (err: unknown): string => describeError(err, secrets);

  const connection = {
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    commandTimeout: COMMAND_TIMEOUT_MS,
    connectTimeout: CONNECT_TIMEOUT_MS,
    // ioredis arms this timer even for a socket that is already dead, holding the process open.
    disconnectTimeout: 200,
    // Never give up: Redis coming back must heal Gatehouse without a restart.
    retryStrategy: (attempt: number) => Math.min(100 * 2 ** Math.min(attempt, 10), MAX_RECONNECT_DELAY_MS) + Math.floor(Math.random() * 100),
  };
  // Through Sentinel, each (re)connection asks the sentinels for the current primary, so a lost
  // primary is followed to the replica they promote; the subscriber connections (duplicates) too.
  // The failover detector listens for the sentinels' +switch-master and reconnects at once, rather
  // than when the old primary's connection happens to fail.
  const client =
    options.url !== undefined
      ? new Redis(options.url, connection)
      : new Redis({
          ...connection,
          sentinels: options.sentinel.sentinels.map((s) => ({ host: s.host, port: s.port })),
          name: options.sentinel.name,
          failoverDetector: true,
          sentinelRetryStrategy: (attempt: number) => Math.min(100 * attempt, MAX_RECONNECT_DELAY_MS),
        });
  client.defineCommand('gatehouseIncrement', { numberOfKeys: 1, lua: INCREMENT_LUA });
  const scripts = client as Redis & GatehouseScripts;
  // Without a listener ioredis prints every failed reconnect to the console itself.
  client.on('error', (err: unknown) => options.onConnectionError?.(`redis connection error: ${redact(err)}`));

  try {
    await connectWithin(client, CONNECT_TIMEOUT_MS);
  } catch {
    // Already reported through the 'error' listener; the client keeps retrying (see doc comment).
  }

  let closed = false;
  const subscriptions = new Set<Subscription>();
  const k = (key: string): string => keyPrefix + key;
  const run = async <T>(operation: string, command: () => Promise<T>): Promise<T> => {
    if (closed) throw new StoreUnavailableError(`redis ${operation} failed: the store is closed`);
    try {
      return await command();
    } catch (err) {
      if (operation === 'increment' && err instanceof Error && /not an integer/i.test(err.message)) throw notACounterError();
      // No `cause`: ioredis attaches the command's arguments (our values) to reply errors.
      throw new StoreUnavailableError(`redis ${operation} failed (connection ${client.status}): ${redact(err)}`);
    }
  };

  return {
    kind: 'redis',

    async set(key, value, ttlMs) {
      assertTtlMs(ttlMs);
      await run('set', () => client.set(k(key), value, 'PX', ttlMs));
    },

    async setIfAbsent(key, value, ttlMs) {
      assertTtlMs(ttlMs);
      const reply = await run('setIfAbsent', () => client.set(k(key), value, 'PX', ttlMs, 'NX'));
      return reply === 'OK';
    },

    async get(key) {
      const value = await run('get', () => client.get(k(key)));
      return value ?? undefined;
    },

    // GETDEL (Redis ≥ 6.2) is one command, so no other client can read the key between the two halves.
    async take(key) {
      const value = await run('take', () => client.getdel(k(key)));
      return value ?? undefined;
    },

    async delete(key) {
      await run('delete', () => client.del(k(key)));
    },

    async increment(key, ttlMs) {
      assertTtlMs(ttlMs);
      const [value, remaining] = await run('increment', () => scripts.gatehouseIncrement(k(key), ttlMs));
      return { value: Number(value), ttlMs: Number(remaining) };
    },

    async ping() {
      await run('ping', () => client.ping());
    },

    async publish(channel, message) {
      await run('publish', () => client.publish(k(channel), message));
    },

    async subscribe(channel, listener) {
      if (closed) throw new StoreUnavailableError('redis subscribe failed: the store is closed');
      const subscription = await subscribeOnOwnConnection(client, k(channel), listener, options.subscriptionHeartbeatMs ?? 1_000, redact, (reason) =>
        options.onConnectionError?.(reason),
      );
      subscriptions.add(subscription);
      return {
        confirmedAt: () => subscription.confirmedAt(),
        lost: () => subscription.lost(),
        async close() {
          subscriptions.delete(subscription);
          await subscription.close();
        },
      };
    },

    async close() {
      if (closed) return;
      closed = true;
      await Promise.allSettled([...subscriptions].map((s) => s.close()));
      subscriptions.clear();
      await quitOrDisconnect(client);
    },
  };
}

/**
 * A connection in subscriber mode serves nothing else, so each subscription gets its own. After a
 * reconnect the subscription renews itself: not through ioredis's autoResubscribe, whose SUBSCRIBE
 * promise nobody holds, so a close or a Redis dying before it is answered rejected it unhandled
 * (which ends a Node process); here every command's failure is handled, and a failed renewal is
 * reported and retried on a fresh connection. The answered SUBSCRIBE reports `onResubscribed`, so
 * the caller catches up on what was lost meanwhile; a heartbeat PING dates the last moment the
 * subscription was known live, counted only on the connection that renewed it.
 */
async function subscribeOnOwnConnection(
  client: Redis,
  channel: string,
  listener: ChannelListener,
  heartbeatMs: number,
  redact: (err: unknown) => string,
  report: (reason: string) => void,
): Promise<Subscription> {
  // No offline queue: a command queued while down would be flushed (and rejected) by whichever
  // close comes next; a heartbeat while down simply fails now, and renewal waits for 'ready'.
  const subscriber = client.duplicate({ enableOfflineQueue: false, lazyConnect: true, autoResubscribe: false });
  subscriber.on('error', () => undefined); // reported by the main connection's listener
  subscriber.on('message', (from: string, message: string) => {
    if (from === channel) listener.onMessage(message);
  });
  try {
    await connectWithin(subscriber, CONNECT_TIMEOUT_MS);
    await subscriber.subscribe(channel);
  } catch (err) {
    subscriber.disconnect();
    throw new StoreUnavailableError(`redis subscribe failed: ${redact(err)}`);
  }
  let confirmedAt = Date.now();
  let closing = false;
  // Whether this connection carries the subscription, and which connection it is: an answer from
  // a connection since closed (ioredis resends unanswered commands after a reconnect) proves nothing.
  let live = true;
  let connection = 0;
  subscriber.on('close', () => {
    live = false;
    connection += 1;
  });
  subscriber.on('ready', () => {
    if (closing) return;
    const renewing = connection;
    subscriber.subscribe(channel).then(
      () => {
        if (renewing !== connection || closing) return;
        live = true;
        confirmedAt = Date.now();
        listener.onResubscribed();
      },
      (err: unknown) => {
        report(`redis resubscribe failed (connection ${subscriber.status}): ${redact(err)}`);
        // Still up but not subscribed (e.g. the answer timed out): a fresh connection renews it.
        if (renewing === connection && !closing && subscriber.status === 'ready') subscriber.disconnect(true);
      },
    );
  });
  let beating = false;
  const heartbeat = setInterval(() => {
    if (beating || !live) return;
    beating = true;
    const beatOn = connection;
    subscriber
      .ping()
      .then(() => {
        if (beatOn === connection && live) confirmedAt = Date.now();
      })
      // A lost PING means a lost connection, reported by the main connection's listener; the
      // subscription's age (confirmedAt) is what the caller watches.
      .catch(() => undefined)
      .finally(() => {
        beating = false;
      });
  }, heartbeatMs);
  heartbeat.unref();
  return {
    confirmedAt: () => confirmedAt,
    lost: () => !live,
    async close() {
      closing = true;
      clearInterval(heartbeat);
      subscriber.removeAllListeners('message');
      await quitOrDisconnect(subscriber);
    },
  };
}

/**
 * `connect()`, bounded. Through Sentinel it does not settle while no sentinel answers: ioredis
 * asks them again and again inside the one attempt (letting it give up instead would end the
 * client for good, with no reconnection), so a start, or a subscription, would wait forever.
 */
async function connectWithin(connection: Redis, ms: number): Promise<void> {
  const connecting = connection.connect();
  // Settles after the race is lost too; its failure is reported through the 'error' listener.
  connecting.catch(() => undefined);
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`not connected within ${ms} ms`)), ms);
  });
  try {
    await Promise.race([connecting, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** A polite QUIT when the connection is up, else (or if QUIT fails) a hard disconnect. */
async function quitOrDisconnect(connection: Redis): Promise<void> {
  if (connection.status === 'ready') {
    try {
      await connection.quit();
      return;
    } catch {
      // Fall through to a hard disconnect.
    }
  }
  connection.disconnect();
}

/** The URL's password (raw and decoded), to be scrubbed from anything that may reach a log. */
function credentialsOf(url: string): string[] {
  try {
    const { password } = new URL(url);
    return [...new Set([password, decodeURIComponent(password)])].filter((s) => s.length > 0);
  } catch {
    return [];
  }
}

function describeError(err: unknown, secrets: readonly string[]): string {
  let text: string;
  if (err instanceof Error) {
    const code = (err as Error & { code?: unknown }).code;
    text = `${err.name}${typeof code === 'string' ? ` ${code}` : ''}: ${err.message.split('\n')[0] ?? ''}`;
  } else {
    text = 'non-error rejection';
  }
  for (const secret of secrets) text = text.split(secret).join('***');
  // A URL with credentials should never appear here, but make sure one cannot.
  return text.replace(/(rediss?:\/\/)[^@\s/]*@/gi, '$1***@');
}
