import type { Config } from '../../config/config.js';
import type { EphemeralStore } from './ephemeral-store.js';
import { createMemoryStore } from './memory-store.js';
import { createRedisStore } from './redis-store.js';
import { unreachableStoreError } from '../unreachable-store.js';

/**
 * Redis when `GATEHOUSE_REDIS_URL` is set (and answering: an unreachable Redis is a ConfigError
 * naming host and port), the in-process store otherwise. The choice is made
 * here once, from configuration; nothing downstream knows which one it got except via `kind`.
 *
 * @example
 * const ephemeral = await openEphemeralStore(config);
 */
export async function openEphemeralStore(
  config: Pick<Config, 'redisUrl' | 'redisKeyPrefix'>,
  options: { onConnectionError?: (reason: string) => void } = {},
): Promise<EphemeralStore> {
  if (config.redisUrl === undefined) return createMemoryStore();
  // The connection's own failure (ECONNREFUSED, ETIMEDOUT) says more than the ping's "not writeable".
  let lastConnectionError: string | undefined;
  const store = await createRedisStore({
    url: config.redisUrl,
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
    throw unreachableStoreError('Redis', config.redisUrl, lastConnectionError === undefined ? error : new Error(lastConnectionError), 'GATEHOUSE_REDIS_URL');
  }
  return store;
}
