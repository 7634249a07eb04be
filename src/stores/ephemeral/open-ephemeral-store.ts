import type { Config } from '../../config/config.js';
import type { EphemeralStore } from './ephemeral-store.js';
import { createMemoryStore } from './memory-store.js';
import { createRedisStore } from './redis-store.js';

/**
 * Redis when `GATEHOUSE_REDIS_URL` is set, the in-process store otherwise. The choice is made
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
  return createRedisStore({
    url: config.redisUrl,
    keyPrefix: config.redisKeyPrefix,
    onConnectionError: options.onConnectionError,
  });
}
