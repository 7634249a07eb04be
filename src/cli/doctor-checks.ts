import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Config } from '../config/config.js';
import { ConfigError } from '../errors/errors.js';
import { isLoopbackHost } from '../config/loopback-host.js';
import { DEVELOPMENT_KEY_FILE } from '../keys/development-keys.js';
import { readSigningKeyFile, type PrivateSigningJwk } from '../keys/signing-key-file.js';
import { LIMIT_NAMES } from '../throttle/limit-spec.js';
import { readResourceFile } from '../oauth/resource-file.js';
import { createScopeCatalogue } from '../oauth/scope-catalogue.js';

/** One line of `gatehouse doctor`. `warn`: works, but unsafe for production; `fail`: broken. */
export interface CheckResult {
  readonly status: 'ok' | 'warn' | 'fail';
  readonly check: string;
  readonly detail: string;
}

const ok = (check: string, detail: string): CheckResult => ({ status: 'ok', check, detail });
const warn = (check: string, detail: string): CheckResult => ({ status: 'warn', check, detail });
const fail = (check: string, detail: string): CheckResult => ({ status: 'fail', check, detail });

/** NIST SP 800-63B-4 §3.1.1.2: 15 characters for a password that is the only factor. */
const NIST_SINGLE_FACTOR_MIN = 15;

/** Where mail goes; production without SMTP works, but without password reset or email verification. */
function mailCheck(config: Config): CheckResult {
  if (config.smtp !== undefined) {
    const tls = config.smtp.secure ? 'TLS' : config.smtp.requireTls ? 'STARTTLS required' : 'STARTTLS if offered';
    return ok('mail', `SMTP at ${config.smtp.host}:${config.smtp.port} (${tls}), from ${config.mailFrom}`);
  }
  if (config.env === 'development') return ok('mail', `no SMTP: mails are files in ${join(config.dataDir, 'outbox')}`);
  return warn('mail', 'GATEHOUSE_SMTP_URL unset: password reset, email verification and email change are off (their routes answer 404)');
}

/** Checks that need nothing but the configuration: what would be unsafe if deployed as it is. */
export function configChecks(config: Config): CheckResult[] {
  const production = config.env === 'production';
  const results: CheckResult[] = [];
  results.push(
    production
      ? ok('mode', `production (${config.envReason})`)
      : warn('mode', `development (${config.envReason}): generated keys and relaxed checks; never expose it`),
  );
  results.push(
    config.issuer.startsWith('https://')
      ? ok('issuer', config.issuer)
      : production
        ? // loadConfig refuses an http GATEHOUSE_ISSUER in production, so this is the unset default, which serve refuses.
          fail('issuer', `GATEHOUSE_ISSUER unset: gatehouse serve refuses to start in production without the public https:// URL`)
        : warn('issuer', `${config.issuer} is not https: production needs the public https:// URL in GATEHOUSE_ISSUER`),
  );
  if (production && !isLoopbackHost(config.host) && config.trustedProxies.length === 0) {
    results.push(
      warn(
        'listen',
        `${config.host}:${config.port} without GATEHOUSE_TRUSTED_PROXIES: Gatehouse speaks plain HTTP, so terminate TLS in a proxy and list it, or every client address (throttling, audit) is the proxy's`,
      ),
    );
  } else {
    results.push(ok('listen', `${config.host}:${config.port}`));
  }
  const everyone = config.trustedProxies.filter((p) => p.endsWith('/0'));
  if (everyone.length > 0)
    results.push(warn('trusted-proxies', `${everyone.join(', ')} trusts X-Forwarded-For from every client: anyone can choose the address they are seen from`));
  if (config.database.kind === 'pglite-memory')
    results.push(warn('database', 'in memory (GATEHOUSE_DATABASE_URL=memory:): every account and session is lost on exit'));
  else if (config.database.kind === 'pglite-dir' && production) {
    results.push(warn('database', `embedded PGlite at ${config.database.path}: one process only; use PostgreSQL (GATEHOUSE_DATABASE_URL=postgres://…)`));
  }
  if (config.redisUrl === undefined && config.redisSentinel === undefined) {
    results.push(
      production
        ? warn('redis', 'not configured: revocations and rate limits live in this process, so run one instance only (set GATEHOUSE_REDIS_URL for more)')
        : ok('redis', 'not configured: ephemeral state in process (one instance)'),
    );
  }
  results.push(mailCheck(config));
  if (config.metrics === undefined) results.push(ok('metrics', 'off'));
  else if (isLoopbackHost(config.metrics.host)) results.push(ok('metrics', `${config.metrics.host}:${config.metrics.port}`));
  else
    results.push(warn('metrics', `bound to ${config.metrics.host}:${config.metrics.port}, not loopback, and unauthenticated: only the scraper may reach it`));
  const off = LIMIT_NAMES.filter((name) => config.limits[name] === null);
  results.push(
    off.length === 0 ? ok('limits', 'every throttling limit is on') : warn('limits', `switched off: ${off.map((n) => `GATEHOUSE_LIMIT_${n}`).join(', ')}`),
  );
  results.push(
    config.passwordMinLength < NIST_SINGLE_FACTOR_MIN
      ? warn('passwords', `minimum length ${config.passwordMinLength}: NIST SP 800-63B-4 asks ${NIST_SINGLE_FACTOR_MIN} for a password used alone`)
      : ok('passwords', `minimum length ${config.passwordMinLength}`),
  );
  if (config.refreshGraceSeconds > 0) {
    results.push((production ? warn : ok)('refresh-grace', `${config.refreshGraceSeconds} s: a stolen refresh token replayed within it goes unnoticed`));
  }
  if (production && (config.logLevel === 'debug' || config.logLevel === 'trace')) results.push(warn('log-level', `${config.logLevel} in production`));
  return results;
}

/** Bit length of a base64url big-endian integer (an RSA modulus). */
function bits(value: unknown): number {
  if (typeof value !== 'string') return 0;
  const bytes = Buffer.from(value, 'base64url');
  const first = bytes.findIndex((b) => b !== 0);
  return first === -1 ? 0 : (bytes.length - first - 1) * 8 + (32 - Math.clz32(bytes[first]!));
}

export function describeKey(key: PrivateSigningJwk): string {
  const strength = key.kty === 'RSA' ? `RSA ${bits(key.n)} bits` : `${key.crv ?? key.kty}`;
  return `${key.kid} ${key.alg} (${strength})`;
}

async function problemsOf(path: string, production: boolean): Promise<{ keys?: PrivateSigningJwk[]; problems: readonly string[] }> {
  try {
    return { keys: await readSigningKeyFile(path, { production }), problems: [] };
  } catch (error) {
    if (error instanceof ConfigError) return { problems: error.problems };
    throw error;
  }
}

/**
 * GATEHOUSE_RESOURCES through the same validation `gatehouse serve` applies, against the built-in
 * scopes (the standalone server's catalogue). Nothing to say when no file is configured.
 */
export async function resourceChecks(config: Config): Promise<CheckResult[]> {
  if (config.resourcesPath === undefined) return [];
  try {
    const resources = await readResourceFile(config.resourcesPath, createScopeCatalogue(), config.audience);
    return [ok('resources', `GATEHOUSE_RESOURCES ${config.resourcesPath}: ${resources.map((r) => r.identifier).join(', ') || 'no resource servers'}`)];
  } catch (error) {
    if (error instanceof ConfigError) return error.problems.map((p) => fail('resources', p));
    throw error;
  }
}

/**
 * The signing keys, through the same validation `gatehouse serve` applies (algorithm, curve, RSA
 * size, file mode, the development marker). Never creates a key. In development, what production
 * would refuse is a warning.
 */
export async function keyChecks(config: Config): Promise<CheckResult[]> {
  if (config.signingKeySource === 'store') return storedKeyChecks(config);
  const production = config.env === 'production';
  const path = config.signingKeysPath ?? join(config.dataDir, DEVELOPMENT_KEY_FILE);
  const development = config.signingKeysPath === undefined;
  const exists = await stat(path).then(
    (s) => s,
    () => undefined,
  );
  if (exists === undefined) {
    return development
      ? [warn('signing-keys', `no development key yet: gatehouse serve generates ${path}; production needs GATEHOUSE_SIGNING_KEYS`)]
      : [fail('signing-keys', `GATEHOUSE_SIGNING_KEYS: cannot read ${path}`)];
  }
  const asDeployed = await problemsOf(path, production);
  // The generated key is refused by production whatever its state; an explicit file is judged as production would.
  const forProduction = production || development ? asDeployed : await problemsOf(path, true);
  const results: CheckResult[] = asDeployed.problems.map((p) => fail('signing-keys', p));
  for (const p of forProduction.problems) if (!asDeployed.problems.includes(p)) results.push(warn('signing-keys', `production would refuse: ${p}`));
  if (asDeployed.keys !== undefined) {
    const [signer, ...others] = asDeployed.keys;
    const mode = process.platform === 'win32' ? '' : `, mode ${(exists.mode & 0o777).toString(8)}`;
    const detail = `${development ? 'development key' : 'GATEHOUSE_SIGNING_KEYS'} ${path}${mode}; signs with ${describeKey(signer!)}${others.length > 0 ? `; also verifies ${others.map(describeKey).join(', ')}` : ''}`;
    results.unshift(development ? warn('signing-keys', `${detail}: generated for development, production refuses it`) : ok('signing-keys', detail));
  }
  return results;
}

/**
 * Stored keys (GATEHOUSE_KEY_SOURCE=store): the keys themselves are checked where they are
 * unsealed (startup, `gatehouse keys list`); here, what decides whether they can be: the KEK and
 * the rotation period.
 */
function storedKeyChecks(config: Config): CheckResult[] {
  const results: CheckResult[] = [];
  if (config.keyEncryptionKey !== undefined)
    results.push(ok('signing-keys', 'stored keys (signing_keys), sealed under GATEHOUSE_KEY_ENCRYPTION_KEY; gatehouse keys list shows them'));
  else if (config.env === 'production') results.push(fail('signing-keys', 'GATEHOUSE_KEY_ENCRYPTION_KEY is required with stored keys in production'));
  else
    results.push(
      warn('signing-keys', `stored keys sealed under a generated development KEK in ${config.dataDir}; production needs GATEHOUSE_KEY_ENCRYPTION_KEY`),
    );
  if (config.keyRotationDays === undefined) results.push(warn('key-rotation', 'GATEHOUSE_KEY_ROTATION_DAYS is off: rotate with gatehouse keys rotate'));
  else results.push(ok('key-rotation', `automatic rotation every ${config.keyRotationDays} days`));
  return results;
}
