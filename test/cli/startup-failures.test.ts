import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { lines, runCli, tempDeployment, type CliResult } from './cli-process.js';

/** A hang guard, not a performance assertion: today's failure mode was ~42 s of silence. */
const HANG_GUARD_MS = 30_000;

function listening(server: Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve((server.address() as { port: number }).port));
  });
}

/** A port nothing listens on: bound once by the OS, then released. */
async function closedPort(): Promise<number> {
  const server = createServer();
  const port = await listening(server);
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

async function serveFailing(env: Record<string, string>): Promise<CliResult & { elapsedMs: number }> {
  const started = Date.now();
  const result = await runCli(['serve'], { env });
  return { ...result, elapsedMs: Date.now() - started };
}

/** Exit 1, exactly one stderr line and no stack, no banner: nothing started halfway. */
function assertOneLineFailure(result: CliResult & { elapsedMs: number }): string {
  assert.equal(result.status, 1, result.stderr);
  const stderr = lines(result.stderr);
  assert.equal(stderr.length, 1, result.stderr);
  assert.doesNotMatch(result.stderr, /\n\s+at /);
  assert.doesNotMatch(result.stdout, /listening on/);
  assert.ok(result.elapsedMs < HANG_GUARD_MS, `took ${result.elapsedMs} ms`);
  return stderr[0] as string;
}

describe('gatehouse serve: startup failures are one clear line, exit 1', () => {
  let deployment: Awaited<ReturnType<typeof tempDeployment>>;
  let busy: Server;
  let busyPort: number;
  before(async () => {
    deployment = await tempDeployment();
    busy = createServer();
    busyPort = await listening(busy);
  });
  after(async () => {
    await new Promise<void>((resolve) => busy.close(() => resolve()));
    await deployment.cleanup();
  });

  test('a port already in use names host:port and what to do', async () => {
    const line = assertOneLineFailure(await serveFailing({ ...deployment.env, HOST: '127.0.0.1', PORT: String(busyPort) }));
    assert.equal(line, `gatehouse: PORT: 127.0.0.1:${busyPort} is already in use; stop the process listening there or set PORT to a free port`);
  });

  test('an unreachable PostgreSQL names host and port, never the password', async () => {
    const port = await closedPort();
    const line = assertOneLineFailure(
      await serveFailing({
        ...deployment.env,
        PORT: String(await closedPort()),
        GATEHOUSE_DATABASE_URL: `postgres://gatehouse:pg-s3cret@127.0.0.1:${port}/gatehouse`,
      }),
    );
    assert.match(
      line,
      new RegExp(`^gatehouse: GATEHOUSE_DATABASE_URL: cannot reach PostgreSQL at 127\\.0\\.0\\.1:${port} \\(ECONNREFUSED\\); check that PostgreSQL is running`),
    );
    assert.doesNotMatch(line, /pg-s3cret/);
  });

  test('an unreachable Redis answers at once with host and port, never the password', async () => {
    const port = await closedPort();
    const line = assertOneLineFailure(
      await serveFailing({ ...deployment.env, PORT: String(await closedPort()), GATEHOUSE_REDIS_URL: `redis://:redis-s3cret@127.0.0.1:${port}/0` }),
    );
    assert.match(
      line,
      new RegExp(`^gatehouse: GATEHOUSE_REDIS_URL: cannot reach Redis at 127\\.0\\.0\\.1:${port} \\(.*ECONNREFUSED.*\\); check that Redis is running`),
    );
    assert.doesNotMatch(line, /redis-s3cret/);
  });

  test('sentinels that do not answer: one line naming them and the primary, not a hang', async () => {
    const [first, second] = [await closedPort(), await closedPort()];
    const line = assertOneLineFailure(
      await serveFailing({
        ...deployment.env,
        PORT: String(await closedPort()),
        GATEHOUSE_REDIS_SENTINELS: `127.0.0.1:${first},127.0.0.1:${second}`,
        GATEHOUSE_REDIS_SENTINEL_NAME: 'auth-primary',
      }),
    );
    assert.match(
      line,
      new RegExp(
        `^gatehouse: GATEHOUSE_REDIS_SENTINELS: cannot reach the Redis primary "auth-primary" through the sentinels at 127\\.0\\.0\\.1:${first}, 127\\.0\\.0\\.1:${second} \\(.+\\); check that they run`,
      ),
    );
  });
});
