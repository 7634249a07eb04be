import type { Config } from '../../config/config.js';
import type { EphemeralStore } from './ephemeral-store.js';
import { createMemoryStore } from './memory-store.js';
import { createRedisStore } from './redis-store.js';
import { unreachableSentinelError, unreachableStoreError } from '../unreachable-store.js';

/**
 * Redis when `GATEHOUSE_REDIS_URL` or `GATEHOUSE_REDIS_SENTINELS` is set (and answering: an unreachable Redis is a ConfigError
 * naming host and port), the in-process store otherwise. The choice is made
 * here once, from configuration; nothing downstream knows which one it got except via `kind`.
 *
 * @example
 * const ephemeral = await openEphemeralStore(config);
 */
export async function openEphemeralStore(
  config: Pick<Config, 'redisUrl' | 'redisKeyPrefix'> & Partial<Pick<Config, 'redisSentinel'>>,
  options: { onConnectionError?: (reason: string) => void } = {},
): Promise<EphemeralStore> {
  const sentinel = config.redisSentinel;
  if (config.redisUrl === undefined && sentinel === undefined) return createMemoryStore();
  // The connection's own failure (ECONNREFUSED, ETIMEDOUT) says more than the ping's "not writeable".
  let lastConnectionError: string | undefined;
  const store = await createRedisStore({
    ...(sentinel === undefined ? { url: config.redisUrl! } : { sentinel }),
    keyPrefix: config.redisKeyPrefix,
    onConnectionError: (reason) => {
      lastConnectionError = reason;
      options.onConnectionError?.(reason);
    },
  });
  // Starting without Redis would only fail later, slowly and vaguely (the revocation subscription
  // retries for seconds); one answer within the connect and command timeouts decides it now.
  try {
    await store.ping();
  } catch (error) {
    await store.close();
    const cause = lastConnectionError === undefined ? error : new Error(lastConnectionError);
    if (sentinel === undefined) throw unreachableStoreError('Redis', config.redisUrl!, cause, 'GATEHOUSE_REDIS_URL');
    throw unreachableSentinelError(sentinel.name, sentinel.sentinels, cause);
  }
  return store;
}
