import { execFileSync, spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePort } from './private-redis.js';

/**
 * A private PostgreSQL cluster a fault test may stop abruptly (never the shared one): initdb into
 * a temporary directory, started with pg_ctl on a free loopback port. PostgreSQL refuses to run as
 * root, so under root (CI, containers) every command runs as the `postgres` OS user.
 */
export interface PrivatePostgres {
  /** postgres://postgres@127.0.0.1:<port>/postgres (trust authentication, loopback only). */
  readonly url: string;
  readonly port: number;
  /** `pg_ctl start`; resolves once the server accepts connections. */
  start(): void;
  /** `pg_ctl stop -m <mode>`: `immediate` is a crash (no checkpoint; recovery from WAL at the next start). */
  stop(mode: 'fast' | 'immediate'): void;
  /** Stops the server if it runs and deletes its directory. */
  destroy(): void;
}

/** The newest Debian PostgreSQL server binaries, or undefined where there are none. */
function serverBinDir(): string | undefined {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  const versions = readdirSync(root)
    .filter((v) => existsSync(path.join(root, v, 'bin', 'initdb')))
    .sort((a, b) => Number(b) - Number(a));
  return versions[0] === undefined ? undefined : path.join(root, versions[0], 'bin');
}

const BIN = serverBinDir();
const isRoot = process.getuid?.() === 0;
const postgresUser = isRoot ? spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' }) : undefined;

/** Why a private cluster cannot be made here (the test skips with it), or undefined when it can. */
export const privatePostgresUnavailable: string | undefined =
  BIN === undefined
    ? 'no PostgreSQL server binaries under /usr/lib/postgresql'
    : postgresUser !== undefined && postgresUser.status !== 0
      ? 'running as root without a postgres OS user'
      : undefined;

/** Runs a server binary, as the postgres user when we are root. */
function run(binary: string, args: readonly string[]): void {
  if (BIN === undefined) throw new Error(privatePostgresUnavailable);
  const command = path.join(BIN, binary);
  if (isRoot) execFileSync('runuser', ['-u', 'postgres', '--', command, ...args], { stdio: 'pipe' });
  else execFileSync(command, args, { stdio: 'pipe' });
}

export async function startPrivatePostgres(): Promise<PrivatePostgres> {
  const dir = mkdtempSync(path.join(tmpdir(), 'gatehouse-pg-'));
  const data = path.join(dir, 'data');
  if (isRoot && postgresUser !== undefined) {
    const uid = Number(postgresUser.stdout.trim());
    chownSync(dir, uid, uid);
  }
  const port = await freePort();
  run('initdb', ['-D', data, '-U', 'postgres', '--auth=trust', '--no-sync', '-E', 'UTF8', '--locale=C']);
  // Socket in the cluster's own directory: nothing shared with the system cluster's /var/run/postgresql.
  const options = `-p ${port} -c listen_addresses=127.0.0.1 -k ${dir} -c fsync=off -c max_connections=40`;
  let running = false;
  const cluster: PrivatePostgres = {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    port,
    start() {
      run('pg_ctl', ['-D', data, '-o', options, '-l', path.join(dir, 'log'), '-w', '-t', '30', 'start']);
      running = true;
    },
    stop(mode) {
      run('pg_ctl', ['-D', data, '-m', mode, '-w', 'stop']);
      running = false;
    },
    destroy() {
      try {
        if (running) cluster.stop('immediate');
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
  try {
    cluster.start();
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  return cluster;
}
