import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** Characters of a server's output kept for `output()`: its tail once it has written more. */
const OUTPUT_KEPT = 4_000_000;

export interface EmbeddedServer {
  readonly child: ChildProcess;
  /** http://127.0.0.1:<port>, as the server printed it once listening. */
  readonly base: string;
  /** Everything the process wrote so far (stdout and stderr): its banner and its log lines. */
  output(): string;
}

/**
 * The real `gatehouse serve` process (the compiled CLI in dist/, which `npm test` and `npm run
 * bench` build first) on the embedded stores: PGlite in `dir`/db, development mode, port 0. Resolves
 * once it listens; nothing from the caller's environment leaks in, only `env` (settings the caller
 * chooses, e.g. limits off for a bench).
 */
export function startEmbeddedServer(dir: string, env: Readonly<Record<string, string>> = {}): Promise<EmbeddedServer> {
  const child = spawn(process.execPath, ['bin/gatehouse.mjs', 'serve'], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH ?? '',
      GATEHOUSE_ENV: 'development',
      GATEHOUSE_DATABASE_URL: path.join(dir, 'db'),
      GATEHOUSE_DATA_DIR: path.join(dir, 'data'),
      GATEHOUSE_LOG_LEVEL: 'silent',
      PORT: '0',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return new Promise((resolve, reject) => {
    let output = '';
    const onData = (chunk: string) => {
      output += chunk;
      const match = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(output);
      if (match?.[1] !== undefined) {
        child.stdout?.off('data', onData);
        // Still read, so a chatty server never blocks on a full pipe; the tail is kept (a bench logs a lot).
        child.stdout?.on('data', (more: string) => {
          output = output.length > OUTPUT_KEPT ? output.slice(-OUTPUT_KEPT / 2) + more : output + more;
        });
        resolve({ child, base: match[1], output: () => output });
      }
    };
    child.stdout?.setEncoding('utf8').on('data', onData);
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    child.once('exit', (code, signal) => reject(new Error(`serve exited (${String(code ?? signal)}) before listening:\n${output}`)));
  });
}

/** Sends `signal` and resolves once the process has exited. */
export function stopServer(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill(signal);
  });
}
