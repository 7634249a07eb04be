import { isIP } from 'node:net';
import { isLoopbackHost } from './loopback-host.js';
import { decideMode, describeMode, developmentStateIn, PRODUCTION_SIGNALS, type GatehouseEnv, type ModeSource } from './mode.js';
import { ConfigError } from '../errors/errors.js';
import { sharedSecretProblem } from '../guard/shared-secret.js';
import { keyEncryptionKeyProblem } from '../keys/key-encryption.js';
import { LIMIT_NAMES, type LimitName, type LimitSpec, type Limits } from '../throttle/limit-spec.js';
import { parseSmtpUrl, type SmtpTarget } from '../mail/smtp-url.js';
import { LIMIT_SETTINGS, SETTINGS, type DatabaseTarget, type RedisSentinelAddress, type Setting, type SettingName, type SettingValue } from './settings.js';

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
  /**
   * The data directory when GATEHOUSE_DATA_DIR is unset (default `.gatehouse`). A host app mounting
   * Gatehouse names its own: the embedded database admits one process, so sharing the standalone
   * server's directory could only fail.
   */
  readonly defaultDataDir?: string;
}

export type { DatabaseTarget } from './settings.js';

/** The primary a set of Redis Sentinels names, followed through failovers. */
export interface RedisSentinelTarget {
  readonly sentinels: readonly RedisSentinelAddress[];
  readonly name: string;
}

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
  /** GATEHOUSE_DATABASE_STATEMENT_TIMEOUT_MS: PostgreSQL's `statement_timeout` on the pooled connections. */
  readonly databaseStatementTimeoutMs: number;
  /** GATEHOUSE_DATABASE_NAMED_STATEMENTS: PostgreSQL statements are named, so each connection plans them once. */
  readonly databaseNamedStatements: boolean;
  readonly redisUrl: string | undefined;
  /** GATEHOUSE_REDIS_SENTINELS and _SENTINEL_NAME: Redis through Sentinel instead of `redisUrl` (never both). */
  readonly redisSentinel: RedisSentinelTarget | undefined;
  /** Prefix of every Redis key, so several deployments (or test runs) can share one Redis. */
  readonly redisKeyPrefix: string;
  readonly accessTokenTtlSeconds: number;
  /**
   * GATEHOUSE_REVOCATION_FEED_SECRETS: the secrets `GET /revocations` accepts as a Bearer
   * credential (resource servers' catch-up, see @gatehouse/verify); empty: the endpoint is off (404).
   */
  readonly revocationFeedSecrets: readonly string[];
  /** GATEHOUSE_API_KEY_PEPPER, checked; the first is current. Empty in development: a generated one (src/apikeys/development-pepper.ts). */
  readonly apiKeyPeppers: readonly string[];
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
  /**
   * GATEHOUSE_ALLOWED_ORIGINS: exact origins (`new URL(x).origin`) trusted besides the issuer's own,
   * for cookie-authenticated writes and `return_to`; see guard/trusted-origins.ts.
   */
  readonly allowedOrigins: readonly string[];
  /** GATEHOUSE_CORS_ORIGINS: exact origins that get CORS headers (with credentials); empty: no CORS. */
  readonly corsOrigins: readonly string[];
  /** GATEHOUSE_LIMIT_<NAME>: `<count>/<window>` per limit, `null` when set to `off`. */
  readonly limits: Limits;
  readonly passwordMinLength: number;
  /** GATEHOUSE_SMTP_URL, parsed and checked (it holds a password: never log it); undefined: no SMTP (src/mail/open-mailer.ts). */
  readonly smtp: SmtpTarget | undefined;
  /** The `From` of every mail. */
  readonly mailFrom: string;
  /** GATEHOUSE_EMAIL_VERIFICATION: `required` refuses sign-in until the address is confirmed. */
  readonly emailVerification: 'optional' | 'required';
  readonly bodyLimitBytes: number;
  readonly dataDir: string;
  readonly logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
}

type Env = Readonly<Record<string, string | undefined>>;

/**
 * Parses the environment into a {@link Config}. Every problem is reported, one line each,
 * naming the variable; nothing invalid is silently replaced by a default.
 *
 * @example
 * const config = loadConfig(process.env, { needs: 'database' });
 */
export function loadConfig(env: Env, options: LoadConfigOptions = {}): Config {
  const problems: string[] = [];
  const readSetting = <T>(setting: Setting<T>, fallback: T): T => {
    const raw = env[setting.name];
    if (raw === undefined || raw === '' || setting.schema === undefined) return fallback;
    const parsed = setting.schema.safeParse(raw);
    if (parsed.success) return parsed.data;
    problems.push(`${setting.name}: ${parsed.error.issues[0]?.message ?? 'invalid value'} (got ${JSON.stringify(raw)})`);
    return fallback;
  };
  /** The setting's value, its table default when unset; `fallback` only where the default is derived from other settings. */
  const read = <K extends SettingName>(name: K, fallback: SettingValue<K> = SETTINGS[name].fallback): SettingValue<K> =>
    readSetting(SETTINGS[name] as Setting<SettingValue<K>>, fallback);
  const isSet = (name: string): boolean => (env[name] ?? '') !== '';

  const needs = options.needs ?? 'server';
  const dataDir = read('GATEHOUSE_DATA_DIR', options.defaultDataDir);
  // An invalid GATEHOUSE_ENV is reported and counts as production: a typo never relaxes anything.
  const explicit = isSet('GATEHOUSE_ENV') ? (read('GATEHOUSE_ENV') ?? 'production') : undefined;
  const productionSignals = PRODUCTION_SIGNALS.filter(({ name, says }) => isSet(name) && says(env[name] ?? '')).map(({ name }) => name);
  const mode = decideMode({
    explicit,
    productionSignals,
    developmentState: options.developmentState ?? developmentStateIn(dataDir),
    launchedByNpmStart: options.launchedByNpmStart ?? env.npm_lifecycle_event === 'start',
  });
  const gatehouseEnv = mode.env;
  const envSource = mode.source;
  const envReason = describeMode(mode.env, mode.source, { dataDir, productionSignals });

  const host = read('HOST');
  // Development mode signs with a generated key anyone with the data directory has: handing that to
  // the network takes an explicit GATEHOUSE_ENV=development, and the banner then says so loudly.
  if (gatehouseEnv === 'development' && envSource !== 'GATEHOUSE_ENV' && !isLoopbackHost(host)) {
    problems.push(
      `HOST: development mode (${envReason}) listens on loopback only, not ${JSON.stringify(host)}; ` +
        'set GATEHOUSE_ENV=development to serve development keys to the network anyway, or configure production (README, "Production checklist")',
    );
  }
  const port = read('PORT');
  const metricsPort = read('GATEHOUSE_METRICS_PORT');
  const metricsHost = read('GATEHOUSE_METRICS_HOST');
  if (metricsPort !== undefined && metricsPort === port) problems.push('GATEHOUSE_METRICS_PORT: must differ from PORT (the public app never serves /metrics)');
  if (!isSet('GATEHOUSE_METRICS_PORT') && isSet('GATEHOUSE_METRICS_HOST'))
    problems.push('GATEHOUSE_METRICS_HOST: has no effect without GATEHOUSE_METRICS_PORT');
  const hostInUrl = isIP(host) === 6 ? `[${host}]` : host;

  const issuer = (read('GATEHOUSE_ISSUER') ?? `http://${hostInUrl}:${port}`).replace(/\/+$/, '');
  const issuerSet = isSet('GATEHOUSE_ISSUER');
  if (gatehouseEnv === 'production' && !issuer.startsWith('https://') && issuerSet) {
    problems.push('GATEHOUSE_ISSUER: must use https in production');
  }
  // The default (http://HOST:PORT) is a laptop's address: tokens naming it would fail every verifier.
  if (gatehouseEnv === 'production' && needs === 'server' && !issuerSet) {
    problems.push('GATEHOUSE_ISSUER: required in production (the public https:// URL clients reach Gatehouse at)');
  }

  const audience = (read('GATEHOUSE_AUDIENCE') ?? [issuer]) as unknown as readonly [string, ...string[]];

  const signingKeysPath = read('GATEHOUSE_SIGNING_KEYS');
  const resourcesPath = read('GATEHOUSE_RESOURCES');
  const signingKeySource = read('GATEHOUSE_KEY_SOURCE');
  if (signingKeySource === 'store' && signingKeysPath !== undefined) {
    problems.push('GATEHOUSE_KEY_SOURCE: "store" cannot be combined with GATEHOUSE_SIGNING_KEYS (keys come from one place); unset one');
  }
  if (gatehouseEnv === 'production' && needs === 'server' && signingKeySource === 'file' && signingKeysPath === undefined) {
    problems.push(
      'GATEHOUSE_SIGNING_KEYS: required in production (path to a private JWKS file), or set GATEHOUSE_KEY_SOURCE=store; generated keys are for development only',
    );
  }
  // A secret (no schema in the table): checked here so that no message quotes it.
  const rawKek = env.GATEHOUSE_KEY_ENCRYPTION_KEY ?? '';
  const kekProblem = rawKek === '' ? undefined : keyEncryptionKeyProblem(rawKek);
  if (kekProblem !== undefined) problems.push(`GATEHOUSE_KEY_ENCRYPTION_KEY: ${kekProblem}`);
  const keyEncryptionKey = rawKek === '' || kekProblem !== undefined ? undefined : rawKek;
  if (signingKeySource === 'store' && gatehouseEnv === 'production' && needs === 'server' && rawKek === '') {
    problems.push('GATEHOUSE_KEY_ENCRYPTION_KEY: required in production with GATEHOUSE_KEY_SOURCE=store (base64url of 32 random bytes)');
  }
  // With `file` keys it still seals the TOTP secrets (src/factors/factor-kek.ts), so it is not refused there.
  const jwksMaxAgeSeconds = read('GATEHOUSE_JWKS_MAX_AGE_SECONDS');
  const keyRotationDays = read('GATEHOUSE_KEY_ROTATION_DAYS');
  if (keyRotationDays !== undefined && signingKeySource === 'file')
    problems.push('GATEHOUSE_KEY_ROTATION_DAYS: has no effect unless GATEHOUSE_KEY_SOURCE=store');

  const database = read('GATEHOUSE_DATABASE_URL') ?? { kind: 'pglite-dir', path: `${dataDir}/db` };
  const databaseStatementTimeoutMs = read('GATEHOUSE_DATABASE_STATEMENT_TIMEOUT_MS');
  const databaseNamedStatements = read('GATEHOUSE_DATABASE_NAMED_STATEMENTS') === 'on';
  const redisUrl = read('GATEHOUSE_REDIS_URL');
  const sentinels = read('GATEHOUSE_REDIS_SENTINELS');
  const sentinelName = read('GATEHOUSE_REDIS_SENTINEL_NAME');
  if (sentinels !== undefined && redisUrl !== undefined) problems.push('GATEHOUSE_REDIS_SENTINELS: set with GATEHOUSE_REDIS_URL; use one or the other');
  if (sentinels === undefined && (env.GATEHOUSE_REDIS_SENTINEL_NAME ?? '') !== '')
    problems.push('GATEHOUSE_REDIS_SENTINEL_NAME: has no effect without GATEHOUSE_REDIS_SENTINELS');
  const redisSentinel =
    sentinels === undefined ? undefined : Object.freeze({ sentinels: Object.freeze(sentinels.map((s) => Object.freeze({ ...s }))), name: sentinelName });
  const redisKeyPrefix = read('GATEHOUSE_REDIS_KEY_PREFIX');
  const accessTokenTtlSeconds = read('GATEHOUSE_ACCESS_TOKEN_TTL');

  // Secrets (no schema in the table): checked here so that no message quotes them.
  const revocationFeedSecrets = (env.GATEHOUSE_REVOCATION_FEED_SECRETS ?? '')
    .split(',')
    .map((v) => v.trim())
    .filter((v) => v.length > 0);
  const feedSecretProblems = new Set(revocationFeedSecrets.map((v) => sharedSecretProblem(v, gatehouseEnv === 'production')).filter((p) => p !== undefined));
  for (const problem of feedSecretProblems) problems.push(`GATEHOUSE_REVOCATION_FEED_SECRETS: ${problem}`);

  const apiKeyPeppers = (env.GATEHOUSE_API_KEY_PEPPER ?? '')
    .split(',')
    .map((v) => v.trim())
    .filter((v) => v.length > 0);
  // The same rules as the key-encryption key: base64url of ≥ 32 random bytes.
  const pepperProblems = new Set(apiKeyPeppers.map((v) => keyEncryptionKeyProblem(v)).filter((p) => p !== undefined));
  for (const problem of pepperProblems) problems.push(`GATEHOUSE_API_KEY_PEPPER: ${problem}`);

  const sessionTtlSeconds = read('GATEHOUSE_SESSION_TTL');
  const sessionIdleTtlSeconds = read('GATEHOUSE_SESSION_IDLE_TTL');
  if (sessionIdleTtlSeconds > sessionTtlSeconds) problems.push('GATEHOUSE_SESSION_IDLE_TTL: must not be longer than GATEHOUSE_SESSION_TTL');
  const refreshGraceSeconds = read('GATEHOUSE_REFRESH_GRACE_SECONDS');
  const auditRetentionDays = read('GATEHOUSE_AUDIT_RETENTION_DAYS');
  const trustedProxies = read('GATEHOUSE_TRUSTED_PROXIES');
  const allowedOrigins = read('GATEHOUSE_ALLOWED_ORIGINS');
  const corsOrigins = read('GATEHOUSE_CORS_ORIGINS');

  const limits = Object.fromEntries(
    LIMIT_SETTINGS.map((setting) => [setting.name.slice('GATEHOUSE_LIMIT_'.length), readSetting(setting, setting.fallback)]),
  ) as Record<LimitName, LimitSpec | null>;
  // A misspelt limit would otherwise be silently ignored, leaving the default in force.
  for (const name of Object.keys(env)
    .filter((k) => k.startsWith('GATEHOUSE_LIMIT_') && isSet(k))
    .sort()) {
    if (!(LIMIT_NAMES as readonly string[]).includes(name.slice('GATEHOUSE_LIMIT_'.length))) {
      problems.push(`${name}: unknown limit (known: ${LIMIT_NAMES.join(', ')})`);
    }
  }

  const passwordMinLength = read('GATEHOUSE_PASSWORD_MIN_LENGTH');

  // A secret (it holds the SMTP password): checked here so that no message quotes it.
  const rawSmtp = env.GATEHOUSE_SMTP_URL ?? '';
  const smtpParsed = rawSmtp === '' ? undefined : parseSmtpUrl(rawSmtp, gatehouseEnv === 'production');
  if (typeof smtpParsed === 'string') problems.push(`GATEHOUSE_SMTP_URL: ${smtpParsed}`);
  const smtp = typeof smtpParsed === 'string' ? undefined : smtpParsed;
  const mailFrom = read('GATEHOUSE_MAIL_FROM');
  if (gatehouseEnv === 'production' && rawSmtp !== '' && mailFrom === undefined)
    problems.push('GATEHOUSE_MAIL_FROM: required in production with GATEHOUSE_SMTP_URL (the From of every mail)');
  const emailVerification = read('GATEHOUSE_EMAIL_VERIFICATION');
  // Sign-in waiting for a mail that can never be sent would lock every new account out.
  if (emailVerification === 'required' && gatehouseEnv === 'production' && rawSmtp === '' && needs === 'server')
    problems.push('GATEHOUSE_EMAIL_VERIFICATION: "required" needs mail; set GATEHOUSE_SMTP_URL');
  const bodyLimitBytes = read('GATEHOUSE_BODY_LIMIT');
  const logLevel = read('GATEHOUSE_LOG_LEVEL');

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
    databaseStatementTimeoutMs,
    databaseNamedStatements,
    redisUrl,
    redisSentinel,
    redisKeyPrefix,
    accessTokenTtlSeconds,
    revocationFeedSecrets: Object.freeze(revocationFeedSecrets),
    apiKeyPeppers: Object.freeze(apiKeyPeppers),
    sessionTtlSeconds,
    sessionIdleTtlSeconds,
    refreshGraceSeconds,
    auditRetentionDays,
    trustedProxies: Object.freeze([...trustedProxies]),
    allowedOrigins: Object.freeze([...allowedOrigins]),
    corsOrigins: Object.freeze([...corsOrigins]),
    limits: Object.freeze(limits),
    passwordMinLength,
    smtp,
    mailFrom: mailFrom ?? 'Gatehouse <gatehouse@localhost>',
    emailVerification,
    bodyLimitBytes,
    dataDir,
    logLevel,
  });
}
