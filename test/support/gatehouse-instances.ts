import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { LIMIT_NAMES } from '../../src/throttle/limit-spec.js';
import { startEmbeddedServer, stopServer, type EmbeddedServer } from './embedded-server.js';

/**
 * Gatehouse instances of one deployment for the fault tests: separate `gatehouse serve` processes
 * (the compiled CLI) on one PostgreSQL and, optionally, one Redis. They share one data directory,
 * so they sign with the same development key and digest API keys under the same pepper; the first
 * instance creates both, which is why it must be listening before any other is started.
 */
export interface Deployment {
  /** Starts one more instance; resolves once it listens. */
  start(name: string, env?: Readonly<Record<string, string>>): Promise<Instance>;
  /** Stops every instance still running (SIGTERM) and deletes the data directory. */
  close(): Promise<void>;
}

export interface Instance extends EmbeddedServer {
  readonly name: string;
  /** Whether the process is still running (neither exited nor killed). */
  alive(): boolean;
}

export interface DeploymentOptions {
  readonly databaseUrl: string;
  readonly redisUrl?: string | undefined;
  /** Settings for every instance (the limits are off unless set here). */
  readonly env?: Readonly<Record<string, string>>;
}

/** Every limit off: a load test's bounded client is not an attacker (a test switches one back on). */
export const LIMITS_OFF: Readonly<Record<string, string>> = Object.fromEntries(LIMIT_NAMES.map((name) => [`GATEHOUSE_LIMIT_${name}`, 'off']));

export function deployment(options: DeploymentOptions): Deployment {
  const dir = mkdtempSync(path.join(tmpdir(), 'gatehouse-deployment-'));
  const instances: Instance[] = [];
  return {
    async start(name, env = {}) {
      const server = await startEmbeddedServer(dir, {
        ...LIMITS_OFF,
        // warn: the events a fault raises (store unavailable, not ready), not one line per request.
        GATEHOUSE_LOG_LEVEL: 'warn',
        GATEHOUSE_DATABASE_URL: options.databaseUrl,
        ...(options.redisUrl === undefined ? {} : { GATEHOUSE_REDIS_URL: options.redisUrl }),
        ...options.env,
        ...env,
      });
      const instance: Instance = { ...server, name, alive: () => server.child.exitCode === null && server.child.signalCode === null };
      instances.push(instance);
      return instance;
    },
    async close() {
      try {
        await Promise.all(instances.map((i) => stopServer(i.child, 'SIGTERM')));
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}

/** A status, or `'connection'` when no answer came (refused, reset: the instance is gone). */
export type Outcome = number | 'connection';

export interface Answer {
  readonly status: Outcome;
  readonly body: Record<string, unknown> | undefined;
}

const REQUEST_TIMEOUT_MS = 10_000;

/** One JSON request; never throws for a missing answer, which is what a killed instance gives. */
export async function call(
  base: string,
  method: 'GET' | 'POST',
  url: string,
  init: { token?: string; body?: object; form?: Record<string, string> } = {},
): Promise<Answer> {
  const headers: Record<string, string> = {};
  if (init.token !== undefined) headers.authorization = `Bearer ${init.token}`;
  let body: string | undefined;
  if (init.body !== undefined) {
    headers['content-type'] = 'application/json';
    body = JSON.stringify(init.body);
  } else if (init.form !== undefined) {
    headers['content-type'] = 'application/x-www-form-urlencoded';
    body = new URLSearchParams(init.form).toString();
  }
  try {
    const res = await fetch(`${base}${url}`, {
      method,
      headers,
      ...(body === undefined ? {} : { body }),
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
    const text = await res.text();
    try {
      return { status: res.status, body: text === '' ? undefined : (JSON.parse(text) as Record<string, unknown>) };
    } catch {
      return { status: res.status, body: undefined };
    }
  } catch (error) {
    // A timeout is a hang, which no fault may cause: it fails the test, unlike a refused connection.
    if (error instanceof DOMException && error.name === 'TimeoutError')
      throw new Error(`${method} ${url} on ${base}: no answer within ${REQUEST_TIMEOUT_MS} ms`);
    return { status: 'connection', body: undefined };
  }
}

export interface Tokens {
  readonly access: string;
  readonly refresh: string;
}

export const tokensOf = (answer: Answer): Tokens => ({ access: String(answer.body?.access_token), refresh: String(answer.body?.refresh_token) });

/** Polls `check` every `intervalMs` until it holds; the elapsed ms, or a failure after `timeoutMs`. */
export async function waitFor(label: string, check: () => Promise<boolean>, timeoutMs: number, intervalMs = 50): Promise<number> {
  const start = performance.now();
  for (;;) {
    if (await check()) return performance.now() - start;
    if (performance.now() - start > timeoutMs) throw new Error(`not within ${timeoutMs} ms: ${label}`);
    await sleep(intervalMs);
  }
}
