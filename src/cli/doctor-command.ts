import { existsSync, readFileSync } from 'node:fs';
import { loadConfig, type Config } from '../config/config.js';
import { ConfigError } from '../errors/errors.js';
import { EXIT, EXIT_CODES_HELP, parseCommand } from './arguments.js';
import { pgliteInUse, type CliIo } from './cli-services.js';
import { configChecks, keyChecks, resourceChecks, type CheckResult } from './doctor-checks.js';
import { formatSettings, listSettings } from './settings-listing.js';

export const DOCTOR_USAGE = `usage: gatehouse doctor [--json] [--settings]

Checks the deployment the environment describes, one line per check:
  ok|warn|fail  <check>  <detail>
config (each problem), mode, issuer, listen, signing-keys (source, algorithm, RSA size, file
mode), database (connectivity), migrations (applied), clock (skew against the database and Redis,
warn above 5 s), redis (connectivity), metrics, limits, passwords. A warn line is unsafe for
production (development mode and keys, no Redis in production, metrics off loopback, …); the last
line lists them. Nothing is created or migrated; with the embedded database, run it while the
server is stopped (PGlite allows one process at a time).
--json prints {"checks":[{status, check, detail}], "failed": N, "unsafe": [check…]}.
--settings lists every setting instead: its value, or "(default)" and the default (secrets: never the value);
with --json, {"settings":[{name, source, value}]}.

Exit 1 when a check fails, 0 otherwise (warnings included).

${EXIT_CODES_HELP}`;

const MAX_SKEW_MS = 5_000;
const TIMEOUT_MS = 3_000;

interface Journal {
  readonly entries: readonly { readonly tag: string; readonly when: number }[];
}

function readJournal(): Journal {
  return JSON.parse(readFileSync(new URL('../stores/db/migrations/meta/_journal.json', import.meta.url), 'utf8')) as Journal;
}

/** A query runner over a connection opened without migrating anything. */
interface Probe {
  query(text: string): Promise<Record<string, unknown>[]>;
  close(): Promise<void>;
}

async function openProbe(config: Config): Promise<Probe> {
  const target = config.database;
  if (target.kind === 'postgres') {
    const { default: pg } = await import('pg');
    const client = new pg.Client({ connectionString: target.url, connectionTimeoutMillis: TIMEOUT_MS, query_timeout: TIMEOUT_MS });
    client.on('error', () => undefined);
    await client.connect();
    return { query: async (text) => (await client.query(text)).rows as Record<string, unknown>[], close: () => client.end() };
  }
  const { PGlite } = await import('@electric-sql/pglite');
  const db = target.kind === 'pglite-dir' ? new PGlite(target.path) : new PGlite();
  await db.waitReady;
  return { query: async (text) => (await db.query<Record<string, unknown>>(text)).rows, close: () => db.close() };
}

function where(config: Config): string {
  const target = config.database;
  if (target.kind === 'pglite-memory') return 'PGlite in memory';
  if (target.kind === 'pglite-dir') return `PGlite at ${target.path}`;
  try {
    // Never the password: this line may be pasted into a ticket.
    const url = new URL(target.url);
    return `PostgreSQL at ${url.hostname}:${url.port || '5432'}${url.pathname}`;
  } catch {
    return 'PostgreSQL';
  }
}

function reason(error: unknown): string {
  const code = (error as { code?: unknown }).code;
  const message = error instanceof Error ? (error.message.split('\n')[0] ?? '') : String(error);
  return `${typeof code === 'string' ? `${code}: ` : ''}${message}`.slice(0, 200);
}

async function databaseChecks(config: Config, journal: Journal): Promise<CheckResult[]> {
  const target = config.database;
  if (target.kind === 'pglite-dir' && !existsSync(target.path)) {
    return [{ status: 'warn', check: 'database', detail: `no database yet at ${target.path}: gatehouse serve creates it` }];
  }
  const marker = pgliteInUse(target);
  if (marker !== undefined) {
    return [
      {
        status: 'warn',
        check: 'database',
        detail: `${where(config)} is open in another process (or was not closed cleanly: ${marker}); not opened, since PGlite allows one process at a time`,
      },
    ];
  }
  let probe: Probe;
  const started = Date.now();
  try {
    probe = await openProbe(config);
  } catch (error) {
    return [{ status: 'fail', check: 'database', detail: `${where(config)}: cannot connect (${reason(error)})` }];
  }
  const results: CheckResult[] = [];
  try {
    const before = Date.now();
    const [row] = await probe.query('select now() as now');
    const after = Date.now();
    results.push({ status: 'ok', check: 'database', detail: `${where(config)} answers (${after - started} ms to connect and query)` });
    const skew = new Date(row?.now as string | Date).getTime() - (before + after) / 2;
    if (target.kind !== 'postgres') results.push({ status: 'ok', check: 'clock', detail: 'the embedded database shares this machine’s clock' });
    else if (!Number.isFinite(skew)) results.push({ status: 'warn', check: 'clock', detail: 'cannot read the database clock' });
    else if (Math.abs(skew) > MAX_SKEW_MS)
      results.push({
        status: 'warn',
        check: 'clock',
        detail: `this machine and the database differ by ${(skew / 1000).toFixed(1)} s (over 5 s): token times and expiries disagree; check NTP`,
      });
    else results.push({ status: 'ok', check: 'clock', detail: `within ${Math.ceil(Math.abs(skew))} ms of the database` });
    results.push(await migrationCheck(probe, journal));
  } catch (error) {
    results.push({ status: 'fail', check: 'database', detail: `${where(config)}: query failed (${reason(error)})` });
  } finally {
    await probe.close().catch(() => undefined);
  }
  return results;
}

async function migrationCheck(probe: Probe, journal: Journal): Promise<CheckResult> {
  let applied: number[];
  try {
    applied = (await probe.query('select created_at from drizzle.__drizzle_migrations')).map((r) => Number(r.created_at));
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (code !== '42P01' && code !== '3F000') throw error;
    applied = [];
  }
  // drizzle applies, in order, every migration newer than the newest one applied.
  const newest = Math.max(0, ...applied);
  const pending = journal.entries.filter((e) => e.when > newest);
  const known = new Set(journal.entries.map((e) => e.when));
  if (applied.some((when) => !known.has(when))) {
    return { status: 'warn', check: 'migrations', detail: 'the database holds migrations this Gatehouse does not know: it was migrated by a newer version' };
  }
  if (pending.length === 0)
    return { status: 'ok', check: 'migrations', detail: `all ${journal.entries.length} applied (latest ${journal.entries.at(-1)?.tag ?? '-'})` };
  return {
    status: 'warn',
    check: 'migrations',
    detail: `${pending.length} of ${journal.entries.length} not applied yet (${pending.map((e) => e.tag).join(', ')}); gatehouse serve applies them at start`,
  };
}

async function redisChecks(config: Config): Promise<CheckResult[]> {
  const sentinel = config.redisSentinel;
  if (config.redisUrl === undefined && sentinel === undefined) return [];
  let host = 'Redis';
  if (sentinel !== undefined) host = `Redis "${sentinel.name}" through ${sentinel.sentinels.map((s) => `${s.host}:${s.port}`).join(',')}`;
  else
    try {
      const url = new URL(config.redisUrl!);
      host = `Redis at ${url.hostname}:${url.port || '6379'}`;
    } catch {
      // loadConfig validated it; keep the generic name.
    }
  const { Redis } = await import('ioredis');
  const options = {
    lazyConnect: true,
    connectTimeout: TIMEOUT_MS,
    commandTimeout: TIMEOUT_MS,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    retryStrategy: () => null,
  };
  const client =
    sentinel === undefined
      ? new Redis(config.redisUrl!, options)
      : new Redis({ ...options, sentinels: [...sentinel.sentinels], name: sentinel.name, sentinelRetryStrategy: () => null });
  let lastError: unknown;
  client.on('error', (error) => (lastError = error));
  try {
    const started = Date.now();
    await client.connect();
    await client.ping();
    const before = Date.now();
    const [seconds, micros] = await client.time();
    const after = Date.now();
    const skew = Number(seconds) * 1000 + Number(micros) / 1000 - (before + after) / 2;
    return [
      { status: 'ok', check: 'redis', detail: `${host} answers (${after - started} ms)` },
      Math.abs(skew) > MAX_SKEW_MS
        ? { status: 'warn', check: 'clock', detail: `this machine and Redis differ by ${(skew / 1000).toFixed(1)} s (over 5 s); check NTP` }
        : { status: 'ok', check: 'clock', detail: `within ${Math.ceil(Math.abs(skew))} ms of Redis` },
    ];
  } catch (error) {
    return [{ status: 'fail', check: 'redis', detail: `${host}: cannot connect (${reason(lastError ?? error)})` }];
  } finally {
    client.disconnect();
  }
}

/** A system clock far behind this release's newest migration is plainly wrong (a dead RTC, a bad VM image). */
function systemClockCheck(journal: Journal, now: number): CheckResult | undefined {
  const built = Math.max(...journal.entries.map((e) => e.when));
  if (now >= built - 86_400_000) return undefined;
  return {
    status: 'warn',
    check: 'clock',
    detail: `the system clock (${new Date(now).toISOString()}) is before this release (${new Date(built).toISOString()}): every token time is wrong`,
  };
}

/** Runs every check; nothing is created, migrated or written. */
export async function runDoctor(env: CliIo['env']): Promise<CheckResult[]> {
  let config: Config;
  try {
    config = loadConfig(env, { needs: 'database' });
  } catch (error) {
    if (error instanceof ConfigError) return error.problems.map((p) => ({ status: 'fail', check: 'config', detail: p }));
    throw error;
  }
  const journal = readJournal();
  const results: CheckResult[] = [{ status: 'ok', check: 'config', detail: 'every variable valid' }];
  const fromConfig = configChecks(config);
  const [keys, resources, database, redis] = await Promise.all([
    keyChecks(config),
    resourceChecks(config),
    databaseChecks(config, journal),
    redisChecks(config),
  ]);
  const clock = systemClockCheck(journal, Date.now());
  const byName = (name: string) => fromConfig.filter((r) => r.check === name);
  results.push(
    ...byName('mode'),
    ...byName('issuer'),
    ...byName('listen'),
    ...byName('trusted-proxies'),
    ...keys,
    ...resources,
    ...byName('database'),
    ...database,
  );
  if (clock !== undefined) results.push(clock);
  results.push(...byName('redis'), ...redis);
  const placed = new Set(['mode', 'issuer', 'listen', 'trusted-proxies', 'database', 'redis']);
  results.push(...fromConfig.filter((r) => !placed.has(r.check)));
  return results;
}

export function formatChecks(results: readonly CheckResult[]): string {
  const width = Math.max(...results.map((r) => r.check.length));
  const lines = results.map((r) => `${r.status.padEnd(4)}  ${r.check.padEnd(width)}  ${r.detail}`);
  const failed = results.filter((r) => r.status === 'fail').length;
  const unsafe = [...new Set(results.filter((r) => r.status === 'warn').map((r) => r.check))];
  lines.push('', `${failed} failed; ${unsafe.length === 0 ? 'nothing unsafe for production found' : `unsafe for production: ${unsafe.join(', ')}`}`);
  return lines.join('\n');
}

/** `gatehouse doctor`: exit 1 when a check fails. */
export async function doctorCommand(argv: readonly string[], io: CliIo): Promise<number> {
  const parsed = parseCommand(argv, { usage: DOCTOR_USAGE, options: { json: { type: 'boolean' }, settings: { type: 'boolean' } }, positionals: [] });
  if (parsed.help) {
    io.stdout.write(`${DOCTOR_USAGE}\n`);
    return EXIT.OK;
  }
  if (parsed.values.settings === true) {
    const settings = listSettings(io.env);
    io.stdout.write(parsed.values.json === true ? `${JSON.stringify({ settings })}\n` : `${formatSettings(settings)}\n`);
    return EXIT.OK;
  }
  const results = await runDoctor(io.env);
  const failed = results.filter((r) => r.status === 'fail').length;
  if (parsed.values.json === true) {
    const unsafe = [...new Set(results.filter((r) => r.status === 'warn').map((r) => r.check))];
    io.stdout.write(`${JSON.stringify({ checks: results, failed, unsafe })}\n`);
  } else {
    io.stdout.write(`${formatChecks(results)}\n`);
  }
  return failed > 0 ? EXIT.FAILED : EXIT.OK;
}
