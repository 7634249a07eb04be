import { loadConfig } from '../src/config/config.js';
import { buildApp } from '../src/http/app.js';
import { generateSigningJwk } from '../src/keys/development-keys.js';
import { createServices } from '../src/services.js';

/**
 * `npx tsx bench/throttle-flood.ts`: issue 19's flood over HTTP (in process, `inject`). Gatehouse
 * on embedded stores with its default limits and BENCH_CAPACITY in-process throttle entries gets
 * `/auth/register` with a bad body (nothing hashed) from BENCH_CAPACITY + 100 distinct addresses
 * through a trusted proxy, so the store is full; then BENCH_FLOOD more new addresses are timed, and
 * a `/healthz` after them. Reports milliseconds per request before and once full.
 */
const CAPACITY = Number(process.env.BENCH_CAPACITY ?? '20000');
const FLOOD = Number(process.env.BENCH_FLOOD ?? '2000');

const config = loadConfig({
  GATEHOUSE_ENV: 'development',
  GATEHOUSE_DATABASE_URL: 'memory:',
  GATEHOUSE_LOG_LEVEL: 'error',
  GATEHOUSE_TRUSTED_PROXIES: '127.0.0.1',
});
const services = await createServices(config, { signingKeys: [await generateSigningJwk()], throttleCapacity: CAPACITY });
const app = await buildApp(services);
let next = 0;
const address = () => {
  const n = next++;
  return `10.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}`;
};
const badRegister = () => app.inject({ method: 'POST', url: '/auth/register', headers: { 'x-forwarded-for': address() }, payload: { username: 'x' } });

const timed = async (requests: number): Promise<number> => {
  const start = performance.now();
  for (let i = 0; i < requests; i++) await badRegister();
  return (performance.now() - start) / requests;
};

const empty = await timed(FLOOD);
while (next < CAPACITY + 100) await badRegister();
const full = await timed(FLOOD);
const start = performance.now();
const health = await app.inject({ url: '/healthz' });
const healthMs = performance.now() - start;
console.log(
  `capacity ${CAPACITY}: ${empty.toFixed(3)} ms per new address while filling, ${full.toFixed(3)} ms once full; /healthz ${health.statusCode} in ${healthMs.toFixed(1)} ms`,
);
await app.close();
await services.close();
