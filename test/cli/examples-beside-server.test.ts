import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ROOT } from './cli-process.js';

const TSX = path.join(ROOT, 'node_modules/.bin/tsx');

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

interface Running {
  readonly child: ChildProcess;
  output(): string;
  /** Resolves with the exit code, or with undefined once `pattern` appears on stdout. */
  readonly settled: Promise<number | null | undefined>;
}

function start(command: string, args: readonly string[], cwd: string, env: Record<string, string>, pattern: RegExp): Running {
  const child = spawn(command, args, { cwd, env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'], timeout: 120_000 });
  let output = '';
  const settled = new Promise<number | null | undefined>((resolve) => {
    const onData = (chunk: Buffer) => {
      output += chunk.toString('utf8');
      if (pattern.test(output)) resolve(undefined);
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.on('close', (code) => resolve(code));
  });
  return { child, output: () => output, settled };
}

async function stop(running: Running | undefined): Promise<void> {
  if (running === undefined || running.child.exitCode !== null) return;
  const closed = new Promise((resolve) => running.child.once('close', resolve));
  running.child.kill('SIGTERM');
  await closed;
}

describe('the examples run beside a running standalone server', () => {
  let dir: string;
  let server: Running | undefined;
  let gatehouseUrl: string;
  const children: Running[] = [];

  before(async () => {
    // The standalone server as `npm start` runs it: development state under <cwd>/.gatehouse.
    dir = await mkdtemp(path.join(tmpdir(), 'gatehouse-examples-'));
    const port = await freePort();
    gatehouseUrl = `http://127.0.0.1:${port}`;
    server = start(
      process.execPath,
      [path.join(ROOT, 'bin/gatehouse.mjs'), 'serve'],
      dir,
      { GATEHOUSE_ENV: 'development', PORT: String(port), GATEHOUSE_LOG_LEVEL: 'silent' },
      /listening on/,
    );
    assert.equal(await server.settled, undefined, server.output());
  });
  after(async () => {
    for (const child of children) await stop(child);
    await stop(server);
    await rm(dir, { recursive: true, force: true });
  });

  test("orders-api starts in the same directory: its own data dir, not the server's .gatehouse/db", async () => {
    const port = await freePort();
    const orders = start(
      TSX,
      [path.join(ROOT, 'examples/orders-api/src/main.ts')],
      dir,
      { GATEHOUSE_ENV: 'development', GATEHOUSE_ISSUER: `http://127.0.0.1:${port}/identity`, PORT: String(port) },
      /orders-api on /,
    );
    children.push(orders);
    assert.equal(await orders.settled, undefined, orders.output());
    const res = await fetch(`http://127.0.0.1:${port}/health`);
    assert.equal(res.status, 200);
  });

  test('inventory-service trusts the running server; an unreachable one is one line and exit 1', async () => {
    const port = await freePort();
    const inventory = start(
      TSX,
      [path.join(ROOT, 'examples/inventory-service/src/main.ts')],
      dir,
      { INVENTORY_GATEHOUSE_URL: gatehouseUrl, PORT: String(port) },
      /inventory service on /,
    );
    children.push(inventory);
    assert.equal(await inventory.settled, undefined, inventory.output());
    assert.equal((await fetch(`http://127.0.0.1:${port}/items`)).status, 401);

    const closed = await freePort();
    const orphan = start(
      TSX,
      [path.join(ROOT, 'examples/inventory-service/src/main.ts')],
      dir,
      { INVENTORY_GATEHOUSE_URL: `http://127.0.0.1:${closed}`, PORT: String(await freePort()) },
      /inventory service on /,
    );
    children.push(orphan);
    assert.equal(await orphan.settled, 1, orphan.output());
    const lines = orphan
      .output()
      .split('\n')
      .filter((l) => l.length > 0);
    assert.deepEqual(lines, [
      `inventory-service: cannot reach Gatehouse at http://127.0.0.1:${closed}/.well-known/jwks.json (ECONNREFUSED); start it (npm start at the repository root) or set INVENTORY_GATEHOUSE_URL`,
    ]);
  });
});
