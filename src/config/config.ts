import { isIP } from 'node:net';
import { z } from 'zod';
import { isLoopbackHost } from './loopback-host.js';
import { decideMode, describeMode, developmentStateIn, PRODUCTION_SIGNALS, type GatehouseEnv, type ModeSource } from './mode.js';
import { ConfigError } from '../errors/errors.js';
import { sharedSecretProblem } from '../guard/shared-secret.js';
import { keyEncryptionKeyProblem } from '../keys/key-encryption.js';
import { DEFAULT_LIMITS, LIMIT_NAMES, parseLimitSpec, type LimitName, type LimitSpec, type Limits } from '../throttle/limit-spec.js';

export type { GatehouseEnv, ModeSource } from './mode.js';

/**
 * What the command at hand uses: `server` (serve, keys) signs tokens, so production requires its
 * keys and an https issuer; `database` (users, tenants, routes, doctor) signs nothing and never asks
 * for a signing key or a key-encryption key.
 */
export type ConfigNeeds = 'server' | 'database';

export interface LoadConfigOptions {
  /** Default: `env.npm_lifecycle_event === 'start'`. */
  readonly launchedByNpmStart?: boolean;
  /** Default: whether the data directory holds the development key (see mode.ts). */
  readonly developmentState?: boolean;
  /** Default `server`: the strictest. */
  readonly needs?: ConfigNeeds;
}

export type DatabaseTarget =
  | { readonly kind: 'postgres'; readonly url: string }
  /**
   * `template`: a PGlite data-directory dump (`dumpDataDir`) of an already migrated database to start
   * from instead of running initdb; never set from the environment (the test runner uses it).
   */
  | { readonly kind: 'pglite-memory'; readonly template?: string }
  | { readonly kind: 'pglite-dir'; readonly path: string };

/** Validated, frozen configuration. Built once at boot by {@link loadConfig}, then passed in. */
export interface Config {
  readonly env: GatehouseEnv;
  /** Which step of the mode rule (mode.ts) decided `env`. */
  readonly envSource: ModeSource;
  /** That step in words, naming the variable or file; printed in the banner and by `gatehouse doctor`. */
  readonly envReason: string;
  /** What the command loading this configuration uses; `database`: no signing settings were required. */
  readonly needs: ConfigNeeds;
  readonly host: string;
  readonly port: number;
  /** Where the Prometheus metrics server listens; undefined (GATEHOUSE_METRICS_PORT unset or `off`): no metrics server. */
  readonly metrics: { readonly host: string; readonly port: number } | undefined;
  readonly issuer: string;
  /** The first entry goes into tokens; a verifier accepts any. */
  readonly audience: readonly [string, ...string[]];
  readonly signingKeysPath: string | undefined;
  /** GATEHOUSE_RESOURCES: a JSON file of RFC 8707 resource servers (read and checked at startup); undefined: none. */
  readonly resourcesPath: string | undefined;
  /**
   * Where signing keys come from: `file` (GATEHOUSE_SIGNING_KEYS, or the generated development key)
   * or `store` (the `signing_keys` table, with rotation; GATEHOUSE_KEY_SOURCE=store).
   */
  readonly signingKeySource: 'file' | 'store';
  /** GATEHOUSE_KEY_ENCRYPTION_KEY (checked, base64url); seals stored private keys. Undefined in development: a generated one. */
  readonly keyEncryptionKey: string | undefined;
  /** The JWKS `Cache-Control: max-age`; stored keys are published this long before they sign. */
  readonly jwksMaxAgeSeconds: number;
  /** Automatic rotation of stored keys every this many days; undefined: off. */
  readonly keyRotationDays: number | undefined;
  readonly database: DatabaseTarget;
  readonly redisUrl: string | undefined;
  /** Prefix of every Redis key, so several deployments (or test runs) can share one Redis. */
  readonly redisKeyPrefix: string;
  readonly accessTokenTtlSeconds: number;
  /**
   * GATEHOUSE_REVOCATION_FEED_SECRETS: the secrets `GET /revocations` accepts as a Bearer
   * credential (resource servers' catch-up, see @gatehouse/verify); empty: the endpoint is off (404).
   */
  readonly revocationFeedSecrets: readonly string[];
  /** A session (refresh-token family) ends this long after login, whatever its use. */
  readonly sessionTtlSeconds: number;
  /** …or this long after its last refresh. */
  readonly sessionIdleTtlSeconds: number;
  /**
   * Opt-in refresh grace window; 0 (strict) unless set. Within it a repeat of the just-spent
   * refresh token by the same client gets the same successor instead of revoking the session.
   */
  readonly refreshGraceSeconds: number;
  /** Audit rows older than this many days are purged by housekeeping. */
  readonly auditRetentionDays: number;
  readonly trustedProxies: readonly string[];
  /** GATEHOUSE_LIMIT_<NAME>: `<count>/<window>` per limit, `null` when set to `off`. */
  readonly limits: Limits;
  readonly passwordMinLength: number;
  readonly bodyLimitBytes: number;
  readonly dataDir: string;
  readonly logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
}

type Env = Readonly<Record<string, string | undefined>>;

const portSchema = z.coerce.number({ error: 'must be a port number' }).int('must be a port number').min(0, 'must be a port number').max(65535, 'must be a port number');
const logLevelSchema = z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']);

function parseUrl(value: string): URL | undefined {
  try {
    return new URL(value);
  } catch {
    return undefined;
  }
}

function isCidr(entry: string): boolean {
  const [address, prefix, ...rest] = entry.split('/');
  if (address === undefined || rest.length > 0) return false;
  const family = isIP(address);
  if (family === 0) return false;
  if (prefix === undefined) return true;
  if (!/^\d{1,3}$/.test(prefix)) return false;
  return Number(prefix) <= (family === 4 ? 32 : 128);
}

/**
 * Parses the environment into a {@link Config}. Every problem is reported, one line each,
 * naming the variable; nothing invalid is silently replaced by a default.
 *
 * @example
 * const config = loadConfig(process.env, { needs: 'database' });
 */
export function loadConfig(env: Env, options: LoadConfigOptions = {}): Config {
  const problems: string[] = [];
  const read = <T>(name: string, schema: z.ZodType<T>, fallback: T): T => {
    const raw = env[name];
    if (raw === undefined || raw === '') return fallback;
    const parsed = schema.safeParse(raw);
    if (parsed.success) return parsed.data;
    problems.push(`${name}: ${parsed.error.issues[0]?.message ?? 'invalid value'} (got ${JSON.stringify(raw)})`);
    return fallback;
  };

  const needs = options.needs ?? 'server';
  const dataDir = read('GATEHOUSE_DATA_DIR', z.string().min(1), '.gatehouse');
  // An invalid GATEHOUSE_ENV is reported and counts as production: a typo never relaxes anything.
  const explicit = (env.GATEHOUSE_ENV ?? '') === '' ? undefined : read('GATEHOUSE_ENV', z.enum(['development', 'production'], { error: 'must be "development" or "production"' }), 'production' as GatehouseEnv);
  const productionSignals = PRODUCTION_SIGNALS.filter(({ name, says }) => (env[name] ?? '') !== '' && says(env[name] ?? '')).map(({ name }) => name);
  const mode = decideMode({
    explicit,
    productionSignals,
    developmentState: options.developmentState ?? developmentStateIn(dataDir),
    launchedByNpmStart: options.launchedByNpmStart ?? env.npm_lifecycle_event === 'start',
  });
  const gatehouseEnv = mode.env;
  const envSource = mode.source;
  const envReason = describeMode(mode.env, mode.source, { dataDir, productionSignals });

  const host = read('HOST', z.string().min(1), '127.0.0.1');
  // Development mode signs with a generated key anyone with the data directory has: handing that to
  // the network takes an explicit GATEHOUSE_ENV=development, and the banner then says so loudly.
  if (gatehouseEnv === 'development' && envSource !== 'GATEHOUSE_ENV' && !isLoopbackHost(host)) {
    problems.push(
      `HOST: development mode (${envReason}) listens on loopback only, not ${JSON.stringify(host)}; ` +
        'set GATEHOUSE_ENV=development to serve development keys to the network anyway, or configure production (README, "Production checklist")',
    );
  }
  const port = read('PORT', portSchema, 8000);
  const metricsPort = read(
    'GATEHOUSE_METRICS_PORT',
    z.string().transform((v, ctx) => {
      if (v === 'off') return undefined;
      const n = /^\d{1,5}$/.test(v) ? Number(v) : Number.NaN;
      if (!(n >= 1 && n <= 65535)) ctx.addIssue({ code: 'custom', message: 'must be a port number from 1 to 65535, or "off"' });
      return n;
    }),
    undefined as number | undefined,
  );
  const metricsHost = read('GATEHOUSE_METRICS_HOST', z.string().min(1), '127.0.0.1');
  if (metricsPort !== undefined && metricsPort === port) problems.push('GATEHOUSE_METRICS_PORT: must differ from PORT (the public app never serves /metrics)');
  if ((env.GATEHOUSE_METRICS_PORT ?? '') === '' && (env.GATEHOUSE_METRICS_HOST ?? '') !== '') problems.push('GATEHOUSE_METRICS_HOST: has no effect without GATEHOUSE_METRICS_PORT');
  const hostInUrl = isIP(host) === 6 ? `[${host}]` : host;

  const issuer = read(
    'GATEHOUSE_ISSUER',
    z.string().refine((v) => {
      const u = parseUrl(v);
      // RFC 8414 §2: https with no query or fragment; plain http only for development.
      return u !== undefined && (u.protocol === 'https:' || u.protocol === 'http:') && u.search === '' && u.hash === '';
    }, 'must be an http(s) URL without query or fragment'),
    `http://${hostInUrl}:${port}`,
  ).replace(/\/+$/, '');
  const issuerSet = (env.GATEHOUSE_ISSUER ?? '') !== '';
  if (gatehouseEnv === 'production' && !issuer.startsWith('https://') && issuerSet) {
    problems.push('GATEHOUSE_ISSUER: must use https in production');
  }
  // The default (http://HOST:PORT) is a laptop's address: tokens naming it would fail every verifier.
  if (gatehouseEnv === 'production' && needs === 'server' && !issuerSet) {
    problems.push('GATEHOUSE_ISSUER: required in production (the public https:// URL clients reach Gatehouse at)');
  }

  const audienceList = read(
    'GATEHOUSE_AUDIENCE',
    z
      .string()
      .transform((v) => v.split(',').map((s) => s.trim()).filter((s) => s.length > 0))
      .refine((list) => list.length > 0, 'must name at least one audience'),
    [issuer],
  );
  const audience = audienceList as unknown as readonly [string, ...string[]];

  const signingKeysPath = read('GATEHOUSE_SIGNING_KEYS', z.string().min(1), undefined as string | undefined);
  const resourcesPath = read('GATEHOUSE_RESOURCES', z.string().min(1), undefined as string | undefined);
  const signingKeySource = read('GATEHOUSE_KEY_SOURCE', z.enum(['file', 'store'], { error: 'must be "file" or "store"' }), 'file');
  if (signingKeySource === 'store' && signingKeysPath !== undefined) {
    problems.push('GATEHOUSE_KEY_SOURCE: "store" cannot be combined with GATEHOUSE_SIGNING_KEYS (keys come from one place); unset one');
  }
  if (gatehouseEnv === 'production' && needs === 'server' && signingKeySource === 'file' && signingKeysPath === undefined) {
    problems.push(
      'GATEHOUSE_SIGNING_KEYS: required in production (path to a private JWKS file), or set GATEHOUSE_KEY_SOURCE=store; generated keys are for development only',
    );
  }
  // Not through `read`: its messages quote the value, and this one is a secret.
  const rawKek = env.GATEHOUSE_KEY_ENCRYPTION_KEY ?? '';
  const kekProblem = rawKek === '' ? undefined : keyEncryptionKeyProblem(rawKek);
  if (kekProblem !== undefined) problems.push(`GATEHOUSE_KEY_ENCRYPTION_KEY: ${kekProblem}`);
  const keyEncryptionKey = rawKek === '' || kekProblem !== undefined ? undefined : rawKek;
  if (signingKeySource === 'store' && gatehouseEnv === 'production' && needs === 'server' && (env.GATEHOUSE_KEY_ENCRYPTION_KEY ?? '') === '') {
    problems.push('GATEHOUSE_KEY_ENCRYPTION_KEY: required in production with GATEHOUSE_KEY_SOURCE=store (base64url of 32 random bytes)');
  }
  if (signingKeySource === 'file' && (env.GATEHOUSE_KEY_ENCRYPTION_KEY ?? '') !== '') {
    problems.push('GATEHOUSE_KEY_ENCRYPTION_KEY: has no effect unless GATEHOUSE_KEY_SOURCE=store');
  }
  const jwksMaxAgeSeconds = read(
    'GATEHOUSE_JWKS_MAX_AGE_SECONDS',
    z.coerce.number({ error: 'must be a whole number of seconds from 0 to 86400' }).int('must be a whole number of seconds from 0 to 86400').min(0, 'must be a whole number of seconds from 0 to 86400').max(86_400, 'must be at most 86400 seconds (a day)'),
    300,
  );
  const keyRotationDays = read(
    'GATEHOUSE_KEY_ROTATION_DAYS',
    z.string().transform((v, ctx) => {
      if (v === 'off') return undefined;
      const n = /^\d{1,4}$/.test(v) ? Number(v) : Number.NaN;
      if (!(n >= 1 && n <= 3650)) ctx.addIssue({ code: 'custom', message: 'must be a whole number of days from 1 to 3650, or "off"' });
      return n;
    }),
    undefined as number | undefined,
  );
  if (keyRotationDays !== undefined && signingKeySource === 'file') problems.push('GATEHOUSE_KEY_ROTATION_DAYS: has no effect unless GATEHOUSE_KEY_SOURCE=store');

  const database = read<DatabaseTarget>(
    'GATEHOUSE_DATABASE_URL',
    z.string().transform((v, ctx): DatabaseTarget => {
      if (v === 'memory:') return { kind: 'pglite-memory' };
      if (/^postgres(ql)?:\/\//.test(v)) {
        if (parseUrl(v) === undefined) ctx.addIssue({ code: 'custom', message: 'is not a valid postgres:// URL' });
        return { kind: 'postgres', url: v };
      }
      if (/^[a-z][a-z0-9+.-]*:\/\//i.test(v)) {
        ctx.addIssue({ code: 'custom', message: 'must be postgres://…, memory: or a directory path' });
      }
      return { kind: 'pglite-dir', path: v };
    }),
    { kind: 'pglite-dir', path: `${dataDir}/db` },
  );

  const redisUrl = read(
    'GATEHOUSE_REDIS_URL',
    z.string().refine((v) => /^rediss?:\/\//.test(v) && parseUrl(v) !== undefined, 'must be a redis:// or rediss:// URL'),
    undefined as string | undefined,
  );

  const redisKeyPrefix = read('GATEHOUSE_REDIS_KEY_PREFIX', z.string().regex(/^[A-Za-z0-9:_.-]{1,64}$/, 'must be 1-64 characters of letters, digits, ":", "_", ".", "-"'), 'gatehouse:');

  const accessTokenTtlSeconds = read(
    'GATEHOUSE_ACCESS_TOKEN_TTL',
    z.coerce
      .number({ error: 'must be a whole number of seconds from 60 to 3600' })
      .int('must be a whole number of seconds from 60 to 3600')
      .min(60, 'must be at least 60 seconds')
      .max(3600, 'must be at most 3600 seconds'),
    900,
  );

  // Not through `read`: its messages quote the value, and these are secrets.
  const revocationFeedSecrets = (env.GATEHOUSE_REVOCATION_FEED_SECRETS ?? '').split(',').map((v) => v.trim()).filter((v) => v.length > 0);
  const feedSecretProblems = new Set(revocationFeedSecrets.map((v) => sharedSecretProblem(v, gatehouseEnv === 'production')).filter((p) => p !== undefined));
  for (const problem of feedSecretProblems) problems.push(`GATEHOUSE_REVOCATION_FEED_SECRETS: ${problem}`);

  const sessionTtlSeconds = read(
    'GATEHOUSE_SESSION_TTL',
    z.coerce.number({ error: 'must be a whole number of seconds' }).int('must be a whole number of seconds').min(3600, 'must be at least 3600 seconds').max(31_536_000, 'must be at most 31536000 seconds (a year)'),
    30 * 86_400,
  );
  const sessionIdleTtlSeconds = read(
    'GATEHOUSE_SESSION_IDLE_TTL',
    z.coerce.number({ error: 'must be a whole number of seconds' }).int('must be a whole number of seconds').min(300, 'must be at least 300 seconds').max(31_536_000, 'must be at most 31536000 seconds (a year)'),
    7 * 86_400,
  );
  if (sessionIdleTtlSeconds > sessionTtlSeconds) problems.push('GATEHOUSE_SESSION_IDLE_TTL: must not be longer than GATEHOUSE_SESSION_TTL');
  // A minute at most: the window is time in which a replayed stolen token goes unnoticed.
  const refreshGraceSeconds = read(
    'GATEHOUSE_REFRESH_GRACE_SECONDS',
    z.coerce.number({ error: 'must be a whole number of seconds from 0 to 60' }).int('must be a whole number of seconds from 0 to 60').min(0, 'must be a whole number of seconds from 0 to 60').max(60, 'must be at most 60 seconds'),
    0,
  );
  const auditRetentionDays = read(
    'GATEHOUSE_AUDIT_RETENTION_DAYS',
    z.coerce.number({ error: 'must be a whole number of days' }).int('must be a whole number of days').min(1, 'must be at least 1 day').max(3650, 'must be at most 3650 days'),
    365,
  );

  const trustedProxies = read(
    'GATEHOUSE_TRUSTED_PROXIES',
    z
      .string()
      .transform((v) => v.split(',').map((s) => s.trim()).filter((s) => s.length > 0))
      .refine((list) => list.every(isCidr), 'must be a comma-separated list of IP addresses or CIDR ranges'),
    [] as string[],
  );

  const limitSchema = z.string().transform((v, ctx): LimitSpec | null => {
    try {
      return parseLimitSpec(v);
    } catch (error) {
      ctx.addIssue({ code: 'custom', message: (error as Error).message });
      return null;
    }
  });
  const limits = Object.fromEntries(
    LIMIT_NAMES.map((name) => [name, read(`GATEHOUSE_LIMIT_${name}`, limitSchema, parseLimitSpec(DEFAULT_LIMITS[name]))]),
  ) as Record<LimitName, LimitSpec | null>;
  // A misspelt limit would otherwise be silently ignored, leaving the default in force.
  for (const name of Object.keys(env).filter((k) => k.startsWith('GATEHOUSE_LIMIT_') && env[k] !== undefined && env[k] !== '').sort()) {
    if (!(LIMIT_NAMES as readonly string[]).includes(name.slice('GATEHOUSE_LIMIT_'.length))) {
      problems.push(`${name}: unknown limit (known: ${LIMIT_NAMES.join(', ')})`);
    }
  }

  const passwordMinLength = read(
    'GATEHOUSE_PASSWORD_MIN_LENGTH',
    z.coerce.number({ error: 'must be a whole number' }).int('must be a whole number').min(8, 'must be at least 8 (NIST SP 800-63B)').max(64, 'must be at most 64'),
    15,
  );
  const bodyLimitBytes = read('GATEHOUSE_BODY_LIMIT', z.coerce.number({ error: 'must be a number of bytes' }).int().min(1024, 'must be at least 1024').max(1_048_576, 'must be at most 1048576'), 16 * 1024);
  const logLevel = read('GATEHOUSE_LOG_LEVEL', logLevelSchema, 'info');

  if (problems.length > 0) throw new ConfigError(problems);

  return Object.freeze({
    env: gatehouseEnv,
    envSource,
    envReason,
    needs,
    host,
    port,
    metrics: metricsPort === undefined ? undefined : Object.freeze({ host: metricsHost, port: metricsPort }),
    issuer,
    audience: Object.freeze([...audience]) as unknown as readonly [string, ...string[]],
    signingKeysPath,
    resourcesPath,
    signingKeySource,
    keyEncryptionKey,
    jwksMaxAgeSeconds,
    keyRotationDays,
    database: Object.freeze(database),
    redisUrl,
    redisKeyPrefix,
    accessTokenTtlSeconds,
    revocationFeedSecrets: Object.freeze(revocationFeedSecrets),
    sessionTtlSeconds,
    sessionIdleTtlSeconds,
    refreshGraceSeconds,
    auditRetentionDays,
    trustedProxies: Object.freeze([...trustedProxies]),
    limits: Object.freeze(limits),
    passwordMinLength,
    bodyLimitBytes,
    dataDir,
    logLevel,
  });
}
