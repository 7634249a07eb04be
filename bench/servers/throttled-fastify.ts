import Fastify from 'fastify';
import { registerErrorHandling } from '../../src/http/error-handler.js';
import { throttlePlugin } from '../../src/http/throttle-plugin.js';
import { createRedisStore } from '../../src/stores/ephemeral/redis-store.js';
import { LIMIT_NAMES, parseLimitSpec, type LimitName, type LimitSpec } from '../../src/throttle/limit-spec.js';
import { createThrottle } from '../../src/throttle/throttle.js';

/**
 * The bare-Fastify hello route behind Gatehouse's throttle plugin and nothing else (no logger, like
 * the bare baseline): the per-address ceiling counts every request. BENCH_SERVER_GLOBAL_IP sets it:
 * large, every request is counted and let through (what counting costs); `1/1h`, every request
 * after the first is refused with 429 (what a refusal costs). The counters live in process, or in
 * Redis with BENCH_SERVER_REDIS_URL.
 */
const redisUrl = process.env.BENCH_SERVER_REDIS_URL;
const shared = redisUrl === undefined ? undefined : await createRedisStore({ url: redisUrl, keyPrefix: `gh-bench-throttle-${Date.now()}:` });
const limits = Object.fromEntries(LIMIT_NAMES.map((name) => [name, null])) as Record<LimitName, LimitSpec | null>;
limits.GLOBAL_IP = parseLimitSpec(process.env.BENCH_SERVER_GLOBAL_IP ?? '1000000/1m');
const throttle = createThrottle({ limits, shared, sessionIdOfRefreshDigest: async () => undefined });

const app = Fastify({ logger: false });
registerErrorHandling(app);
await app.register(throttlePlugin, { throttle });
app.get('/hello', async () => ({ hello: 'world' }));
const address = await app.listen({ host: '127.0.0.1', port: 0 });
process.send?.({ type: 'ready', address });
process.on('SIGTERM', () => process.exit(0));
