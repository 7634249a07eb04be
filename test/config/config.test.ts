import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { loadConfig, type Config } from '../../src/config/config.js';
import { ConfigError } from '../../src/errors/errors.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const DEV = { GATEHOUSE_ENV: 'development' };

/** The ConfigError's problem lines; fails the test if loadConfig does not throw one. */
function problemsOf(env: Record<string, string>, options: { launchedByNpmStart?: boolean } = {}): readonly string[] {
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
    assert.deepEqual(
      [...named].sort(),
      ['GATEHOUSE_ACCESS_TOKEN_TTL', 'GATEHOUSE_DATABASE_URL', 'GATEHOUSE_PASSWORD_MIN_LENGTH', 'GATEHOUSE_REDIS_URL', 'GATEHOUSE_TRUSTED_PROXIES', 'PORT'],
    );
    for (const p of problems) assert.doesNotMatch(p, /\n/);
  });

  const single: [string, string, RegExp][] = [
    ['PORT', 'abc', /port/],
    ['PORT', '70000', /port/],
    ['GATEHOUSE_ACCESS_TOKEN_TTL', '30', /at least 60/],
    ['GATEHOUSE_ACCESS_TOKEN_TTL', '4000', /at most 3600/],
    ['GATEHOUSE_ACCESS_TOKEN_TTL', '90.5', /whole number/],
    ['GATEHOUSE_DATABASE_URL', 'mysql://x', /postgres/],
    ['GATEHOUSE_REDIS_URL', 'http://x', /redis:\/\//],
    ['GATEHOUSE_TRUSTED_PROXIES', 'not-an-ip', /IP/],
    ['GATEHOUSE_TRUSTED_PROXIES', '10.0.0.0/33', /IP/],
    ['GATEHOUSE_TRUSTED_PROXIES', '10.0.0.1, evil.example.com', /IP/],
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
      // Keys given, so an invalid GATEHOUSE_ENV (which falls back to the stricter production) adds no second line.
      const problems = problemsOf({ ...DEV, GATEHOUSE_SIGNING_KEYS: '/etc/gatehouse/keys.json', [name]: value });
      assert.equal(problems.length, 1, problems.join('\n'));
      assert.ok(problems[0]?.startsWith(`${name}: `), problems[0]);
      assert.match(problems[0] ?? '', message);
    });
  }

  test('production refuses a plain-http issuer', () => {
    const problems = problemsOf({ GATEHOUSE_ENV: 'production', GATEHOUSE_SIGNING_KEYS: '/keys.json', GATEHOUSE_ISSUER: 'http://auth.example.com' });
    assert.deepEqual(problems.map((p) => p.split(':')[0]), ['GATEHOUSE_ISSUER']);
  });
});

describe('loadConfig: GATEHOUSE_REVOCATION_FEED_SECRETS', () => {
  const PROD = { GATEHOUSE_ENV: 'production', GATEHOUSE_SIGNING_KEYS: 'keys.json' };
  const strong = 'Jd8q2-Vx7LmN0pR4sT6uW9yZa1Bc3De5Fg7Hi9Kl';

  test('weak, placeholder, short and unsendable values stop a production start, without quoting them', () => {
    for (const weak of ['short', 'change-me-change-me-change-me-change-me', 'abababababababababababababababababab', `${strong},tooshort`, 'has space in it but is long enough to pass']) {
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

describe('loadConfig: which mode', () => {
  test('GATEHOUSE_ENV unset, launched by npm start, no GATEHOUSE_* set: development', () => {
    const config = loadConfig({ PATH: '/usr/bin', HOME: '/home/x' }, { launchedByNpmStart: true });
    assert.equal(config.env, 'development');
    assert.equal(config.envSource, 'npm start without configuration');
  });

  test('malicious: HOST=0.0.0.0 npm start does not serve development keys to the network unless GATEHOUSE_ENV=development says so', () => {
    for (const host of ['0.0.0.0', '::', '192.0.2.10', 'gatehouse.example.com']) {
      const problems = problemsOf({ HOST: host }, { launchedByNpmStart: true });
      assert.equal(problems.length, 1, host);
      assert.match(problems[0] ?? '', /^HOST: development mode \(npm start without configuration\) listens on loopback only/, host);
    }
    for (const host of ['127.0.0.1', '127.0.0.2', 'localhost', '::1']) {
      assert.equal(loadConfig({ HOST: host }, { launchedByNpmStart: true }).env, 'development', host);
    }
    const explicit = loadConfig({ HOST: '0.0.0.0', GATEHOUSE_ENV: 'development' });
    assert.equal(explicit.env, 'development');
    assert.equal(explicit.host, '0.0.0.0');
  });

  test('npm start with any GATEHOUSE_* setting is production, which then requires GATEHOUSE_SIGNING_KEYS', () => {
    const problems = problemsOf({ GATEHOUSE_LOG_LEVEL: 'debug' }, { launchedByNpmStart: true });
    assert.equal(problems.length, 1);
    assert.match(problems[0] ?? '', /^GATEHOUSE_SIGNING_KEYS: required in production/);
  });

  test('an empty GATEHOUSE_* value does not count as configuration', () => {
    assert.equal(loadConfig({ GATEHOUSE_LOG_LEVEL: '' }, { launchedByNpmStart: true }).env, 'development');
  });

  test('not launched by npm start and GATEHOUSE_ENV unset: production (requires keys)', () => {
    const problems = problemsOf({});
    assert.match(problems[0] ?? '', /^GATEHOUSE_SIGNING_KEYS: /);
  });

  test('an invalid GATEHOUSE_ENV is an error and never relaxes to development', () => {
    for (const value of ['Development', 'dev', 'staging']) {
      const problems = problemsOf({ GATEHOUSE_ENV: value }, { launchedByNpmStart: true });
      assert.deepEqual(problems.map((p) => p.split(':')[0]), ['GATEHOUSE_ENV', 'GATEHOUSE_SIGNING_KEYS']);
    }
  });

  test('GATEHOUSE_ENV=production with keys: production, from GATEHOUSE_ENV', () => {
    const config = loadConfig({ GATEHOUSE_ENV: 'production', GATEHOUSE_SIGNING_KEYS: '/etc/gatehouse/keys.json' }, { launchedByNpmStart: true });
    assert.equal(config.env, 'production');
    assert.equal(config.envSource, 'GATEHOUSE_ENV');
    assert.equal(config.signingKeysPath, '/etc/gatehouse/keys.json');
  });
});

describe('loadConfig: defaults and result', () => {
  test('defaults', () => {
    const config = loadConfig(DEV);
    const expected: Config = {
      env: 'development',
      envSource: 'GATEHOUSE_ENV',
      host: '127.0.0.1',
      port: 8000,
      metrics: undefined,
      issuer: 'http://127.0.0.1:8000',
      audience: ['http://127.0.0.1:8000'],
      signingKeysPath: undefined,
      resourcesPath: undefined,
      signingKeySource: 'file',
      keyEncryptionKey: undefined,
      jwksMaxAgeSeconds: 300,
      keyRotationDays: undefined,
      database: { kind: 'pglite-dir', path: '.gatehouse/db' },
      redisUrl: undefined,
      redisKeyPrefix: 'gatehouse:',
      accessTokenTtlSeconds: 900,
      revocationFeedSecrets: [],
      sessionTtlSeconds: 30 * 86_400,
      sessionIdleTtlSeconds: 7 * 86_400,
      refreshGraceSeconds: 0,
      auditRetentionDays: 365,
      trustedProxies: [],
      limits: {
        LOGIN_USER_IP: { count: 10, windowSeconds: 900 },
        LOGIN_USER: { count: 100, windowSeconds: 900 },
        LOGIN_IP: { count: 100, windowSeconds: 900 },
        REGISTER_IP: { count: 100, windowSeconds: 3600 },
        REFRESH_SESSION: { count: 60, windowSeconds: 60 },
        PASSWORD_CHANGE_USER: { count: 10, windowSeconds: 900 },
        REVOKE_IP: { count: 100, windowSeconds: 60 },
        GLOBAL_IP: { count: 1200, windowSeconds: 60 },
      },
      passwordMinLength: 15,
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
      env: { PATH: process.env.PATH ?? '', GATEHOUSE_ENV: 'production' },
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
