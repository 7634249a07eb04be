import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';

/** How long a private redis-server may take to accept connections. */
const READY_DEADLINE_MS = 10_000;

/** Fault tests kill their own redis-server, never the shared one; without the binary they skip. */
export const hasRedisServer = spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status === 0;

export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  assert.ok(address !== null && typeof address === 'object');
  server.close();
  await once(server, 'close');
  return address.port;
}

/** A private redis-server this test may kill; resolves once it accepts connections. `extra`: more arguments (e.g. `--replicaof`). */
export async function startRedis(port: number, extra: readonly string[] = []): Promise<ChildProcess> {
  return spawnReady(
    'redis-server',
    ['--port', String(port), '--save', '', '--appendonly', 'no', '--bind', '127.0.0.1', ...extra],
    'Ready to accept connections',
    `redis-server on ${port}`,
  );
}

/** Whether Debian's `redis-sentinel` is installed (the Sentinel fault test skips without it). */
export const hasRedisSentinel = spawnSync('redis-sentinel', ['--version'], { stdio: 'ignore' }).status === 0;

export interface SentinelOptions {
  /** The primary's name, as GATEHOUSE_REDIS_SENTINEL_NAME gives it. */
  readonly name: string;
  readonly primaryPort: number;
  /** Sentinels that must agree the primary is down. */
  readonly quorum: number;
  /** How long the primary must be silent before a sentinel deems it down. */
  readonly downAfterMs: number;
}

/**
 * A private redis-sentinel on `port` monitoring the primary on loopback; its configuration file
 * (which the sentinel rewrites as it learns) lives in `dir`. Resolves once it monitors the primary.
 */
export async function startSentinel(dir: string, port: number, options: SentinelOptions): Promise<ChildProcess> {
  const file = path.join(dir, `sentinel-${port}.conf`);
  writeFileSync(
    file,
    [
      `port ${port}`,
      'bind 127.0.0.1',
      `dir ${dir}`,
      `sentinel monitor ${options.name} 127.0.0.1 ${options.primaryPort} ${options.quorum}`,
      `sentinel down-after-milliseconds ${options.name} ${options.downAfterMs}`,
      // A failover that stalls is retried after twice this; short, so one test run sees it through.
      `sentinel failover-timeout ${options.name} 3000`,
      `sentinel parallel-syncs ${options.name} 1`,
      '',
    ].join('\n'),
  );
  return spawnReady('redis-sentinel', [file], `+monitor master ${options.name}`, `redis-sentinel on ${port}`);
}

/** Spawns a Redis binary and resolves once its output shows `ready`; killed if it does not within the deadline. */
async function spawnReady(command: string, args: readonly string[], ready: string, label: string): Promise<ChildProcess> {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const started = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${label} not ready:\n${output}`)), READY_DEADLINE_MS);
    child.stdout?.on('data', (chunk: Buffer) => {
      output += chunk.toString('utf8');
      if (output.includes(ready)) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.stderr?.on('data', (chunk: Buffer) => {
      output += chunk.toString('utf8');
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${label} exited with ${String(code)}:\n${output}`));
    });
  });
  try {
    await started;
  } catch (error) {
    child.kill('SIGKILL');
    throw error;
  }
  return child;
}

export async function killRedis(child: ChildProcess | undefined): Promise<void> {
  if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGKILL');
  await exited;
}
