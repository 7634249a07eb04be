import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { loadConfig, type Config, type LoadConfigOptions } from '../../src/config/config.js';
import { ConfigError } from '../../src/errors/errors.js';
import { DEVELOPMENT_KEY_FILE } from '../../src/keys/development-keys.js';
import { createServices } from '../../src/services.js';
import { DEVELOPMENT_MARKER } from '../../src/keys/signing-key-file.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const DEV = { GATEHOUSE_ENV: 'development' };

/** The ConfigError's problem lines; fails the test if loadConfig does not throw one. */
function problemsOf(env: Record<string, string>, options: LoadConfigOptions = {}): readonly string[] {
  try {
    loadConfig(env, options);
  } catch (error) {
    assert.ok(error instanceof ConfigError, `expected ConfigError, got ${String(error)}`);
    assert.equal(error.code, 'ERR_CONFIG_INVALID');
    return error.problems;
  }
  assert.fail(`loadConfig accepted ${JSON.stringify(env)}`);
}

describe('loadConfig: invalid settings', () => {
  test('every invalid variable is reported at once, one line each, naming it', () => {
    const problems = problemsOf({
      ...DEV,
      PORT: 'abc',
      GATEHOUSE_ACCESS_TOKEN_TTL: '30',
      GATEHOUSE_DATABASE_URL: 'mysql://x',
      GATEHOUSE_REDIS_URL: 'http://x',
      GATEHOUSE_TRUSTED_PROXIES: 'not-an-ip',
      GATEHOUSE_PASSWORD_MIN_LENGTH: '6',
    });
    const named = problems.map((p) => p.slice(0, p.indexOf(':')));
    assert.deepEqual([...named].sort(), [
      'GATEHOUSE_ACCESS_TOKEN_TTL',
      'GATEHOUSE_DATABASE_URL',
      'GATEHOUSE_PASSWORD_MIN_LENGTH',
      'GATEHOUSE_REDIS_URL',
      'GATEHOUSE_TRUSTED_PROXIES',
      'PORT',
    ]);
    for (const p of problems) assert.doesNotMatch(p, /\n/);
  });

  const single: [string, string, RegExp][] = [
    ['PORT', 'abc', /port/],
    ['PORT', '70000', /port/],
    ['GATEHOUSE_ACCESS_TOKEN_TTL', '30', /at least 60/],
    ['GATEHOUSE_ACCESS_TOKEN_TTL', '4000', /at most 3600/],
    ['GATEHOUSE_ACCESS_TOKEN_TTL', '90.5', /whole number/],
    ['GATEHOUSE_DATABASE_URL', 'mysql://x', /postgres/],
    // 0 is PostgreSQL's "no timeout": a held lock would again hold every pooled connection.
    ['GATEHOUSE_DATABASE_STATEMENT_TIMEOUT_MS', '0', /at least 100/],
    ['GATEHOUSE_DATABASE_STATEMENT_TIMEOUT_MS', 'off', /whole number of milliseconds/],
    ['GATEHOUSE_DATABASE_STATEMENT_TIMEOUT_MS', '600001', /at most 600000/],
    ['GATEHOUSE_DATABASE_STATEMENT_TIMEOUT_MS', '2.5', /whole number/],
    ['GATEHOUSE_REDIS_URL', 'http://x', /redis:\/\//],
    ['GATEHOUSE_REDIS_SENTINELS', '127.0.0.1', /"127\.0\.0\.1" is not host:port/],
    ['GATEHOUSE_REDIS_SENTINELS', '127.0.0.1:26379,sentinel-b:0', /"sentinel-b:0" is not host:port/],
    ['GATEHOUSE_REDIS_SENTINELS', ' , ', /at least one sentinel/],
    ['GATEHOUSE_REDIS_SENTINEL_NAME', 'mymaster', /no effect without GATEHOUSE_REDIS_SENTINELS/],
    ['GATEHOUSE_TRUSTED_PROXIES', 'not-an-ip', /IP/],
    ['GATEHOUSE_TRUSTED_PROXIES', '10.0.0.0/33', /IP/],
    ['GATEHOUSE_TRUSTED_PROXIES', '10.0.0.1, evil.example.com', /IP/],
    // Origins are exact: a path, a wildcard, `null`, a query or an opaque scheme would widen or blur what is trusted.
    ['GATEHOUSE_ALLOWED_ORIGINS', 'https://app.example.com/', /"https:\/\/app\.example\.com\/" is not an origin.*trailing/],
    ['GATEHOUSE_ALLOWED_ORIGINS', 'https://app.example.com/login', /is not an origin.*path/],
    ['GATEHOUSE_ALLOWED_ORIGINS', 'https://*.example.com', /wildcard/],
    ['GATEHOUSE_ALLOWED_ORIGINS', '*', /wildcard/],
    ['GATEHOUSE_ALLOWED_ORIGINS', 'null', /is not an origin/],
    ['GATEHOUSE_ALLOWED_ORIGINS', 'https://app.example.com?x=1', /query/],
    ['GATEHOUSE_ALLOWED_ORIGINS', 'https://app.example.com#top', /fragment/],
    ['GATEHOUSE_ALLOWED_ORIGINS', 'app.example.com', /scheme:\/\/host/],
    ['GATEHOUSE_ALLOWED_ORIGINS', 'https://user:pw@app.example.com', /no user or password/],
    ['GATEHOUSE_ALLOWED_ORIGINS', 'chrome-extension://abcdef', /http or https/],
    ['GATEHOUSE_ALLOWED_ORIGINS', 'https://app.example.com, https://ok.example.com/x', /ok\.example\.com\/x/],
    ['GATEHOUSE_CORS_ORIGINS', 'https://spa.example.com/', /is not an origin/],
    ['GATEHOUSE_CORS_ORIGINS', 'https://*.example.com', /wildcard/],
    ['GATEHOUSE_CORS_ORIGINS', 'null', /is not an origin/],
    ['GATEHOUSE_PASSWORD_MIN_LENGTH', '6', /at least 8/],
    ['GATEHOUSE_PASSWORD_MIN_LENGTH', '65', /at most 64/],
    ['GATEHOUSE_BODY_LIMIT', '10', /at least 1024/],
    ['GATEHOUSE_ISSUER', 'ftp://gatehouse.example', /http/],
    ['GATEHOUSE_ISSUER', 'https://gatehouse.example/?x=1', /query/],
    ['GATEHOUSE_LOG_LEVEL', 'verbose', /.+/],
    ['GATEHOUSE_ENV', 'staging', /development.*production/],
    ['GATEHOUSE_REDIS_KEY_PREFIX', 'has space', /letters/],
    ['GATEHOUSE_METRICS_PORT', '0', /1 to 65535/],
    ['GATEHOUSE_METRICS_PORT', '65536', /1 to 65535/],
    ['GATEHOUSE_METRICS_PORT', '9464.5', /1 to 65535/],
    ['GATEHOUSE_METRICS_PORT', 'on', /"off"/],
    ['GATEHOUSE_METRICS_PORT', '8000', /differ from PORT/],
    ['GATEHOUSE_METRICS_HOST', '10.0.0.5', /no effect without GATEHOUSE_METRICS_PORT/],
  ];
  for (const [name, value, message] of single) {
    test(`${name}=${value}: one line naming ${name}`, () => {
      // Keys and issuer given, so an invalid GATEHOUSE_ENV (which falls back to the stricter production) adds no second line.
      const problems = problemsOf({ ...DEV, GATEHOUSE_SIGNING_KEYS: '/etc/gatehouse/keys.json', GATEHOUSE_ISSUER: 'https://auth.example.com', [name]: value });
      assert.equal(problems.length, 1, problems.join('\n'));
      assert.ok(problems[0]?.startsWith(`${name}: `), problems[0]);
      assert.match(problems[0] ?? '', message);
    });
  }

  test('Redis through Sentinel: a host:port list (IPv6 in brackets) and a name; never together with GATEHOUSE_REDIS_URL', () => {
    const config = loadConfig({ ...DEV, GATEHOUSE_REDIS_SENTINELS: 'sentinel-a:26379, [::1]:26380', GATEHOUSE_REDIS_SENTINEL_NAME: 'auth' });
    assert.deepEqual(config.redisSentinel, {
      sentinels: [
        { host: 'sentinel-a', port: 26379 },
        { host: '::1', port: 26380 },
      ],
      name: 'auth',
    });
    assert.equal(loadConfig({ ...DEV, GATEHOUSE_REDIS_SENTINELS: '127.0.0.1:26379' }).redisSentinel?.name, 'mymaster');
    // Two Redis targets would leave which one holds the revocations to chance.
    const problems = problemsOf({ ...DEV, GATEHOUSE_REDIS_SENTINELS: '127.0.0.1:26379', GATEHOUSE_REDIS_URL: 'redis://127.0.0.1:6379' });
    assert.deepEqual(problems, ['GATEHOUSE_REDIS_SENTINELS: set with GATEHOUSE_REDIS_URL; use one or the other']);
  });

  test('production refuses a plain-http issuer', () => {
    const problems = problemsOf({ GATEHOUSE_ENV: 'production', GATEHOUSE_SIGNING_KEYS: '/keys.json', GATEHOUSE_ISSUER: 'http://auth.example.com' });
    assert.deepEqual(
      problems.map((p) => p.split(':')[0]),
      ['GATEHOUSE_ISSUER'],
    );
  });
});

describe('loadConfig: GATEHOUSE_REVOCATION_FEED_SECRETS', () => {
  const PROD = { GATEHOUSE_ENV: 'production', GATEHOUSE_SIGNING_KEYS: 'keys.json', GATEHOUSE_ISSUER: 'https://auth.example.com' };
  const strong = 'Jd8q2-Vx7LmN0pR4sT6uW9yZa1Bc3De5Fg7Hi9Kl';

  test('weak, placeholder, short and unsendable values stop a production start, without quoting them', () => {
    for (const weak of [
      'short',
      'change-me-change-me-change-me-change-me',
      'abababababababababababababababababab',
      `${strong},tooshort`,
      'has space in it but is long enough to pass',
    ]) {
      const problems = problemsOf({ ...PROD, GATEHOUSE_REVOCATION_FEED_SECRETS: weak });
      assert.equal(problems.length, 1, `${weak}: ${problems.join(' | ')}`);
      assert.match(problems[0]!, /^GATEHOUSE_REVOCATION_FEED_SECRETS: /);
      for (const part of weak.split(',')) assert.ok(!problems[0]!.includes(part), 'the value is never quoted');
    }
  });

  test('a comma list (rotation) of strong secrets is accepted; development accepts short ones; unset: none', () => {
    const other = 'Zq9w-8Er7Ty6Ui5Op4As3Df2Gh1Jk0LzXcVbNm';
    assert.deepEqual(loadConfig({ ...PROD, GATEHOUSE_REVOCATION_FEED_SECRETS: ` ${strong} , ${other} ` }).revocationFeedSecrets, [strong, other]);
    assert.deepEqual(loadConfig({ ...DEV, GATEHOUSE_REVOCATION_FEED_SECRETS: 'dev-feed' }).revocationFeedSecrets, ['dev-feed']);
    assert.deepEqual(loadConfig(DEV).revocationFeedSecrets, []);
  });
});

/** An empty data directory, or one holding the marked development key `npm start` leaves behind. */
function dataDir(withDevelopmentState: boolean): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'gatehouse-mode-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  if (withDevelopmentState) writeFileSync(path.join(dir, DEVELOPMENT_KEY_FILE), JSON.stringify({ [DEVELOPMENT_MARKER]: true, keys: [] }));
  return dir;
}

describe('loadConfig: which mode (one rule for every command)', () => {
  const ISSUER = 'https://auth.example.com';

  test('the rule table', () => {
    const empty = dataDir(false);
    const state = dataDir(true);
    const rows: { env: Record<string, string>; env_: string; source: string }[] = [
      // A plain CLI in an empty directory with nothing set is a deployment.
      { env: { GATEHOUSE_DATA_DIR: empty }, env_: 'production', source: 'default' },
      { env: { GATEHOUSE_DATA_DIR: state }, env_: 'development', source: 'development state' },
      { env: { GATEHOUSE_DATA_DIR: empty, npm_lifecycle_event: 'start' }, env_: 'development', source: 'npm start' },
      {
        env: { GATEHOUSE_DATA_DIR: state, GATEHOUSE_ENV: 'production', GATEHOUSE_ISSUER: ISSUER, GATEHOUSE_SIGNING_KEYS: 'k.json' },
        env_: 'production',
        source: 'GATEHOUSE_ENV',
      },
      { env: { GATEHOUSE_DATA_DIR: empty, GATEHOUSE_ENV: 'development' }, env_: 'development', source: 'GATEHOUSE_ENV' },
      // What says production: a real key file, a key-encryption key, a public https issuer.
      { env: { GATEHOUSE_DATA_DIR: state, GATEHOUSE_SIGNING_KEYS: 'k.json', GATEHOUSE_ISSUER: ISSUER }, env_: 'production', source: 'production settings' },
      {
        env: { GATEHOUSE_DATA_DIR: state, npm_lifecycle_event: 'start', GATEHOUSE_ISSUER: ISSUER, GATEHOUSE_SIGNING_KEYS: 'k.json' },
        env_: 'production',
        source: 'production settings',
      },
      // Settings as common on a laptop as in a deployment never decide the mode.
      { env: { GATEHOUSE_DATA_DIR: state, GATEHOUSE_LIMIT_LOGIN_USER_IP: 'off' }, env_: 'development', source: 'development state' },
      { env: { GATEHOUSE_DATA_DIR: empty, npm_lifecycle_event: 'start', GATEHOUSE_LIMIT_LOGIN_USER_IP: 'off' }, env_: 'development', source: 'npm start' },
      {
        env: { GATEHOUSE_DATA_DIR: empty, npm_lifecycle_event: 'start', GATEHOUSE_LOG_LEVEL: 'debug', PORT: '8001', GATEHOUSE_ISSUER: 'http://localhost:8001' },
        env_: 'development',
        source: 'npm start',
      },
    ];
    for (const row of rows) {
      const config = loadConfig(row.env, { needs: 'database' });
      assert.deepEqual([config.env, config.envSource], [row.env_, row.source], JSON.stringify(row.env));
    }
  });

  test('regression (issue 15): one GATEHOUSE_LIMIT_*=off under npm start does not flip to production', () => {
    const config = loadConfig({ GATEHOUSE_DATA_DIR: dataDir(false), GATEHOUSE_LIMIT_LOGIN_USER_IP: 'off' }, { launchedByNpmStart: true });
    assert.equal(config.env, 'development');
    assert.equal(config.limits.LOGIN_USER_IP, null);
  });

  test('the reason names the variable or the file that decided', () => {
    const state = dataDir(true);
    assert.equal(loadConfig({ GATEHOUSE_DATA_DIR: state }).envReason, `GATEHOUSE_ENV unset; development key in ${path.join(state, DEVELOPMENT_KEY_FILE)}`);
    assert.equal(
      loadConfig({ GATEHOUSE_DATA_DIR: state, GATEHOUSE_SIGNING_KEYS: 'k.json', GATEHOUSE_ISSUER: ISSUER }).envReason,
      'GATEHOUSE_ENV unset; GATEHOUSE_SIGNING_KEYS, GATEHOUSE_ISSUER set',
    );
    assert.equal(loadConfig({ GATEHOUSE_ENV: 'production', GATEHOUSE_SIGNING_KEYS: 'k.json', GATEHOUSE_ISSUER: ISSUER }).envReason, 'GATEHOUSE_ENV=production');
  });

  test('an unmarked signing-keys.json is not development state', () => {
    const dir = dataDir(false);
    writeFileSync(path.join(dir, DEVELOPMENT_KEY_FILE), JSON.stringify({ keys: [] }));
    assert.equal(loadConfig({ GATEHOUSE_DATA_DIR: dir }, { needs: 'database' }).env, 'production');
  });

  test('production without GATEHOUSE_ISSUER is refused (no plain-http default issuer)', () => {
    const problems = problemsOf({ GATEHOUSE_ENV: 'production', GATEHOUSE_SIGNING_KEYS: 'k.json' });
    assert.deepEqual(
      problems.map((p) => p.split(':')[0]),
      ['GATEHOUSE_ISSUER'],
    );
    assert.match(problems[0] ?? '', /required in production/);
  });

  test('production with an http GATEHOUSE_ISSUER is refused', () => {
    const problems = problemsOf({ GATEHOUSE_ENV: 'production', GATEHOUSE_SIGNING_KEYS: 'k.json', GATEHOUSE_ISSUER: 'http://auth.example.com' });
    assert.deepEqual(problems, ['GATEHOUSE_ISSUER: must use https in production']);
  });

  test('a command that signs nothing (needs: database) never asks for a signing key or a KEK, even in production', () => {
    const config = loadConfig({ GATEHOUSE_ENV: 'production' }, { needs: 'database' });
    assert.equal(config.env, 'production');
    assert.equal(config.needs, 'database');
    assert.equal(loadConfig({ GATEHOUSE_ENV: 'production', GATEHOUSE_KEY_SOURCE: 'store' }, { needs: 'database' }).signingKeySource, 'store');
    // serve still refuses both.
    assert.deepEqual(
      problemsOf({ GATEHOUSE_ENV: 'production', GATEHOUSE_ISSUER: ISSUER }).map((p) => p.split(':')[0]),
      ['GATEHOUSE_SIGNING_KEYS'],
    );
    assert.deepEqual(
      problemsOf({ GATEHOUSE_ENV: 'production', GATEHOUSE_ISSUER: ISSUER, GATEHOUSE_KEY_SOURCE: 'store' }).map((p) => p.split(':')[0]),
      ['GATEHOUSE_KEY_ENCRYPTION_KEY'],
    );
    // A bad value is still refused: needs only drops requirements, never checks.
    assert.deepEqual(
      problemsOf({ GATEHOUSE_ENV: 'production', GATEHOUSE_KEY_SOURCE: 'store', GATEHOUSE_KEY_ENCRYPTION_KEY: 'short' }, { needs: 'database' }).map(
        (p) => p.split(':')[0],
      ),
      ['GATEHOUSE_KEY_ENCRYPTION_KEY'],
    );
  });

  test('malicious: a needs-database configuration cannot open services that would read or generate keys', async () => {
    const dir = dataDir(false);
    await assert.rejects(
      createServices(loadConfig({ GATEHOUSE_ENV: 'production', GATEHOUSE_DATA_DIR: dir, GATEHOUSE_DATABASE_URL: 'memory:' }, { needs: 'database' })),
      TypeError,
    );
    assert.equal(existsSync(path.join(dir, DEVELOPMENT_KEY_FILE)), false);
  });

  test('malicious: HOST=0.0.0.0 npm start does not serve development keys to the network unless GATEHOUSE_ENV=development says so', () => {
    const empty = dataDir(false);
    for (const host of ['0.0.0.0', '::', '192.0.2.10', 'gatehouse.example.com']) {
      const problems = problemsOf({ HOST: host, GATEHOUSE_DATA_DIR: empty }, { launchedByNpmStart: true });
      assert.equal(problems.length, 1, host);
      assert.match(problems[0] ?? '', /^HOST: development mode \(GATEHOUSE_ENV unset; launched by npm start\) listens on loopback only/, host);
    }
    for (const host of ['127.0.0.1', '127.0.0.2', 'localhost', '::1']) {
      assert.equal(loadConfig({ HOST: host, GATEHOUSE_DATA_DIR: empty }, { launchedByNpmStart: true }).env, 'development', host);
    }
    const explicit = loadConfig({ HOST: '0.0.0.0', GATEHOUSE_ENV: 'development' });
    assert.equal(explicit.env, 'development');
    assert.equal(explicit.host, '0.0.0.0');
  });

  test('an empty GATEHOUSE_ENV is unset', () => {
    assert.equal(loadConfig({ GATEHOUSE_ENV: '', GATEHOUSE_DATA_DIR: dataDir(false) }, { launchedByNpmStart: true }).env, 'development');
  });

  test('not launched by npm start, no development state, GATEHOUSE_ENV unset: production (requires keys)', () => {
    const problems = problemsOf({ GATEHOUSE_DATA_DIR: dataDir(false) });
    assert.deepEqual(
      problems.map((p) => p.split(':')[0]),
      ['GATEHOUSE_ISSUER', 'GATEHOUSE_SIGNING_KEYS'],
    );
  });

  test('an invalid GATEHOUSE_ENV is an error and never relaxes to development', () => {
    const state = dataDir(true);
    for (const value of ['Development', 'dev', 'staging']) {
      const problems = problemsOf({ GATEHOUSE_ENV: value, GATEHOUSE_DATA_DIR: state }, { launchedByNpmStart: true });
      assert.deepEqual(
        problems.map((p) => p.split(':')[0]),
        ['GATEHOUSE_ENV', 'GATEHOUSE_ISSUER', 'GATEHOUSE_SIGNING_KEYS'],
      );
    }
  });
});

describe('loadConfig: defaults and result', () => {
  test('defaults', () => {
    const config = loadConfig(DEV);
    const expected: Config = {
      env: 'development',
      envSource: 'GATEHOUSE_ENV',
      envReason: 'GATEHOUSE_ENV=development',
      needs: 'server',
      host: '127.0.0.1',
      port: 8000,
      metrics: undefined,
      issuer: 'http://127.0.0.1:8000',
      audience: ['http://127.0.0.1:8000'],
      signingKeysPath: undefined,
      resourcesPath: undefined,
      signingKeySource: 'file',
      keyEncryptionKey: undefined,
      apiKeyPeppers: [],
      jwksMaxAgeSeconds: 300,
      keyRotationDays: undefined,
      database: { kind: 'pglite-dir', path: '.gatehouse/db' },
      databaseStatementTimeoutMs: 5000,
      databaseNamedStatements: true,
      redisUrl: undefined,
      redisSentinel: undefined,
      redisKeyPrefix: 'gatehouse:',
      accessTokenTtlSeconds: 900,
      revocationFeedSecrets: [],
      sessionTtlSeconds: 30 * 86_400,
      sessionIdleTtlSeconds: 7 * 86_400,
      refreshGraceSeconds: 0,
      auditRetentionDays: 365,
      trustedProxies: [],
      allowedOrigins: [],
      corsOrigins: [],
      limits: {
        LOGIN_USER_IP: { count: 10, windowSeconds: 900 },
        API_KEY: { count: 600, windowSeconds: 60 },
        WS_TICKET: { count: 60, windowSeconds: 60 },
        LOGIN_USER: { count: 100, windowSeconds: 900 },
        LOGIN_IP: { count: 100, windowSeconds: 900 },
        REGISTER_IP: { count: 100, windowSeconds: 3600 },
        REFRESH_SESSION: { count: 60, windowSeconds: 60 },
        PASSWORD_CHANGE_USER: { count: 10, windowSeconds: 900 },
        REVOKE_IP: { count: 100, windowSeconds: 60 },
        GLOBAL_IP: { count: 1200, windowSeconds: 60 },
        MAIL_REQUEST_IP: { count: 30, windowSeconds: 900 },
        MAIL_ACCOUNT: { count: 1, windowSeconds: 60 },
        PASSKEY_OPTIONS_IP: { count: 60, windowSeconds: 60 },
        OTP_USER: { count: 5, windowSeconds: 900 },
      },
      passwordMinLength: 15,
      smtp: undefined,
      mailFrom: 'Gatehouse <gatehouse@localhost>',
      emailVerification: 'optional',
      bodyLimitBytes: 16 * 1024,
      dataDir: '.gatehouse',
      logLevel: 'info',
    };
    assert.deepEqual({ ...config }, expected);
  });

  test('values are parsed: lists split, issuer trailing slash dropped, memory: database, IPv6 host bracketed', () => {
    const config = loadConfig({
      ...DEV,
      HOST: '::1',
      PORT: '9000',
      GATEHOUSE_AUDIENCE: 'api-a, api-b',
      GATEHOUSE_TRUSTED_PROXIES: '10.0.0.1, 192.168.0.0/16 ,::1',
      GATEHOUSE_DATABASE_URL: 'memory:',
      GATEHOUSE_ACCESS_TOKEN_TTL: '120',
    });
    assert.equal(config.issuer, 'http://[::1]:9000');
    assert.deepEqual(config.audience, ['api-a', 'api-b']);
    assert.deepEqual(config.trustedProxies, ['10.0.0.1', '192.168.0.0/16', '::1']);
    assert.deepEqual(config.database, { kind: 'pglite-memory' });
    assert.equal(config.accessTokenTtlSeconds, 120);
    assert.equal(loadConfig({ ...DEV, GATEHOUSE_ISSUER: 'https://auth.example.com/' }).issuer, 'https://auth.example.com');
  });

  test('origin lists: comma or space separated, normalized as browsers send Origin, duplicates dropped, frozen', () => {
    const config = loadConfig({
      ...DEV,
      GATEHOUSE_ALLOWED_ORIGINS: 'https://App.Example.com:443, http://localhost:3000  https://app.example.com,http://[::1]:8080',
      GATEHOUSE_CORS_ORIGINS: 'https://spa.example.com:8443',
    });
    assert.deepEqual(config.allowedOrigins, ['https://app.example.com', 'http://localhost:3000', 'http://[::1]:8080']);
    assert.deepEqual(config.corsOrigins, ['https://spa.example.com:8443']);
    assert.ok(Object.isFrozen(config.allowedOrigins));
    assert.ok(Object.isFrozen(config.corsOrigins));
    assert.throws(() => (config.corsOrigins as string[]).push('https://evil.test'), TypeError);
  });

  test('metrics server: a port turns it on (loopback unless a host is given); "off" or unset: none', () => {
    assert.deepEqual(loadConfig({ ...DEV, GATEHOUSE_METRICS_PORT: '9464' }).metrics, { host: '127.0.0.1', port: 9464 });
    assert.deepEqual(loadConfig({ ...DEV, GATEHOUSE_METRICS_PORT: '9464', GATEHOUSE_METRICS_HOST: '0.0.0.0' }).metrics, { host: '0.0.0.0', port: 9464 });
    assert.equal(loadConfig({ ...DEV, GATEHOUSE_METRICS_PORT: 'off' }).metrics, undefined);
    assert.equal(loadConfig({ ...DEV, GATEHOUSE_METRICS_PORT: 'off', GATEHOUSE_METRICS_HOST: '0.0.0.0' }).metrics, undefined);
    assert.ok(Object.isFrozen(loadConfig({ ...DEV, GATEHOUSE_METRICS_PORT: '9464' }).metrics));
  });

  test('the result is frozen, nested lists and objects too', () => {
    const config = loadConfig({ ...DEV, GATEHOUSE_TRUSTED_PROXIES: '10.0.0.1' });
    assert.ok(Object.isFrozen(config));
    assert.ok(Object.isFrozen(config.audience));
    assert.ok(Object.isFrozen(config.trustedProxies));
    assert.ok(Object.isFrozen(config.database));
    assert.throws(() => {
      (config as { accessTokenTtlSeconds: number }).accessTokenTtlSeconds = 86400;
    }, TypeError);
    assert.throws(() => (config.trustedProxies as string[]).push('0.0.0.0/0'), TypeError);
  });
});

describe('gatehouse serve (CLI)', () => {
  test('production without signing keys: exit 1 and exactly one line naming GATEHOUSE_SIGNING_KEYS', () => {
    const result = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'serve'], {
      cwd: ROOT,
      // A clean environment: nothing from the developer's shell leaks in.
      env: { PATH: process.env.PATH ?? '', GATEHOUSE_ENV: 'production', GATEHOUSE_ISSUER: 'https://auth.example.com' },
      encoding: 'utf8',
      timeout: 60_000,
    });
    assert.equal(result.status, 1, result.stderr);
    const lines = result.stderr.split('\n').filter((l) => l.length > 0);
    assert.equal(lines.length, 1, result.stderr);
    assert.match(lines[0] ?? '', /^gatehouse: GATEHOUSE_SIGNING_KEYS: \S/);
    assert.doesNotMatch(result.stderr, /\n\s+at /);
    assert.equal(result.stdout, '');
  });

  test('several invalid variables: one line each, still exit 1', () => {
    const result = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'serve'], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', GATEHOUSE_ENV: 'development', PORT: 'abc', GATEHOUSE_ACCESS_TOKEN_TTL: '4000' },
      encoding: 'utf8',
      timeout: 60_000,
    });
    assert.equal(result.status, 1, result.stderr);
    const lines = result.stderr.split('\n').filter((l) => l.length > 0);
    assert.deepEqual(lines.map((l) => l.split(':').slice(0, 2).join(':')).sort(), ['gatehouse: GATEHOUSE_ACCESS_TOKEN_TTL', 'gatehouse: PORT']);
  });
});
