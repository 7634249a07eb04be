import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { mainThreadSchedule } from '../thread-schedule.js';
import { loadConfig } from '../../src/config/config.js';
import { buildApp } from '../../src/http/app.js';
import { generateSigningJwk } from '../../src/keys/development-keys.js';
import { createServices } from '../../src/services.js';
import { LIMIT_NAMES } from '../../src/throttle/limit-spec.js';

/**
 * Gatehouse as `npm start` runs it (embedded PGlite in a directory, in-process ephemeral store,
 * info logging to stdout, which the parent discards), plus an IPC channel to read event-loop delay
 * and CPU time. The directory is a new temporary one, removed at exit. (`memory:` is slower for
 * writes than what `npm start` runs: a bare conditional UPDATE on PGlite measured 1,525/s in
 * memory, 3,336/s in a directory.)
 */
const redisUrl = process.env.BENCH_SERVER_REDIS_URL;
const databaseDir = process.env.BENCH_SERVER_DATABASE_URL === undefined ? mkdtempSync(path.join(tmpdir(), 'gh-bench-server-')) : undefined;
// The bench logs in thousands of times from 127.0.0.1: every limit is off unless the parent asks
// for throttling (BENCH_SERVER_THROTTLING=on: the defaults, each overridable by BENCH_SERVER_LIMIT_<NAME>).
const throttling = process.env.BENCH_SERVER_THROTTLING === 'on';
const limits = Object.fromEntries(
  LIMIT_NAMES.map((name) => [`GATEHOUSE_LIMIT_${name}`, process.env[`BENCH_SERVER_LIMIT_${name}`] ?? (throttling ? '' : 'off')]),
);
const config = loadConfig({
  GATEHOUSE_ENV: 'development',
  GATEHOUSE_DATABASE_URL: process.env.BENCH_SERVER_DATABASE_URL ?? path.join(databaseDir ?? '', 'db'),
  GATEHOUSE_LOG_LEVEL: process.env.GATEHOUSE_LOG_LEVEL ?? 'info',
  ...limits,
  ...(redisUrl === undefined ? {} : { GATEHOUSE_REDIS_URL: redisUrl, GATEHOUSE_REDIS_KEY_PREFIX: process.env.BENCH_SERVER_REDIS_KEY_PREFIX ?? 'gh-bench:' }),
});
// Instances of one deployment share the signing key; the parent passes it to both.
const signingKey = process.env.BENCH_SERVER_SIGNING_JWK === undefined ? await generateSigningJwk() : JSON.parse(process.env.BENCH_SERVER_SIGNING_JWK);
const services = await createServices(config, { signingKeys: [signingKey] });
const app = await buildApp(services);
const address = await app.listen({ host: '127.0.0.1', port: 0 });
// 1 ms sampling: each sample includes the sampling interval, so coarser resolutions overstate the delay.
const delay = monitorEventLoopDelay({ resolution: 1 });
delay.enable();
process.on('message', (message: { type: string }) => {
  if (message.type === 'reset-delay') {
    delay.reset();
    process.send?.({ type: 'delay-reset' });
  } else if (message.type === 'read-cpu') {
    const { user, system } = process.cpuUsage();
    const loop = mainThreadSchedule();
    process.send?.({ type: 'cpu', processMs: (user + system) / 1000, loopCpuMs: loop?.cpuMs ?? Number.NaN, loopWaitMs: loop?.waitMs ?? Number.NaN });
  } else if (message.type === 'read-delay') {
    process.send?.({ type: 'delay', p99Ms: delay.percentile(99) / 1e6, maxMs: delay.max / 1e6 });
  }
});
process.send?.({ type: 'ready', address });
process.on('SIGTERM', () => {
  if (databaseDir !== undefined) rmSync(databaseDir, { recursive: true, force: true });
  process.exit(0);
});
