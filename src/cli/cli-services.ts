import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { AuditContext } from '../audit/audit-event.js';
import type { AdminActor } from '../admin/user-admin.js';
import { loadConfig, type Config, type DatabaseTarget } from '../config/config.js';
import { generateSigningJwk } from '../keys/development-keys.js';
import { createServices, type GatehouseServices } from '../services.js';
import { CommandError } from './arguments.js';

/** What a command reads and writes; the real process streams, or fakes in a test. */
export interface CliIo {
  readonly stdin: NodeJS.ReadableStream & { readonly isTTY?: boolean; setRawMode?(mode: boolean): unknown };
  readonly stdout: { write(text: string): unknown };
  readonly stderr: { write(text: string): unknown };
  readonly env: Readonly<Record<string, string | undefined>>;
}

/** Audit rows of CLI actions: no address, no request; the user agent says where they came from. */
export const CLI_AUDIT_CONTEXT: AuditContext = Object.freeze({ ip: null, userAgent: 'gatehouse-cli', requestId: null });

/** The operator at the command line: not a user of the service (`actor_id` null in the audit trail). */
export const CLI_ACTOR: AdminActor = Object.freeze({ userId: null, context: CLI_AUDIT_CONTEXT });

/**
 * PGlite on disk has no lock of its own: a second process opening the directory (the CLI while
 * `gatehouse serve` runs) corrupts it. PGlite keeps `postmaster.pid` there while it is open and
 * removes it on close, so its presence means "in use, or not closed cleanly".
 */
export function pgliteInUse(target: DatabaseTarget): string | undefined {
  if (target.kind !== 'pglite-dir') return undefined;
  const marker = join(target.path, 'postmaster.pid');
  return existsSync(marker) ? marker : undefined;
}

export function assertDatabaseFree(target: DatabaseTarget): void {
  const marker = pgliteInUse(target);
  if (marker === undefined) return;
  throw new CommandError(
    `the embedded database ${target.kind === 'pglite-dir' ? target.path : ''} is open in another process (a running gatehouse serve?); ` +
      `PGlite allows one process at a time, so stop that one first. If none is running (it was killed), delete ${marker}`,
  );
}

/**
 * Opens the services of the configured deployment (the environment, as `gatehouse serve` reads
 * it; by default as a command that signs nothing), runs `work`, and closes them whatever happens. Background warnings (Redis outage) go to stderr.
 */
export async function withServices<T>(
  io: CliIo,
  work: (services: GatehouseServices, config: Config) => Promise<T>,
  config: Config = loadConfig(io.env, { needs: 'database' }),
): Promise<T> {
  assertDatabaseFree(config.database);
  // A command that signs nothing gets a key that exists only in this process: it never reads the
  // deployment's keys (production would otherwise ask for them) and never creates development ones.
  const services = await createServices(config, config.needs === 'database' ? { signingKeys: [await generateSigningJwk()] } : {});
  const detach = services.events.attach((event) => {
    if (event.level === 'warn') io.stderr.write(`gatehouse: warning: ${event.event}${typeof event.reason === 'string' ? ` (${event.reason})` : ''}\n`);
  });
  try {
    return await work(services, config);
  } finally {
    detach();
    await services.close();
  }
}
