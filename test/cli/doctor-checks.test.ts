import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { exportJWK, generateKeyPair } from 'jose';
import { loadConfig } from '../../src/config/config.js';
import { configChecks, keyChecks, resourceChecks, type CheckResult } from '../../src/cli/doctor-checks.js';
import { generateSigningJwk } from '../../src/keys/development-keys.js';

const byCheck = (results: readonly CheckResult[]) => Object.fromEntries(results.map((r) => [r.check, r.status]));

describe('configChecks', () => {
  test('development: the mode and the http issuer are unsafe for production; nothing else', () => {
    const results = configChecks(loadConfig({ GATEHOUSE_ENV: 'development' }));
    assert.deepEqual(
      results.filter((r) => r.status !== 'ok').map((r) => r.check),
      ['mode', 'issuer'],
    );
  });

  test('production without GATEHOUSE_ISSUER: the issuer check fails, as serve would refuse to start', () => {
    const results = configChecks(loadConfig({ GATEHOUSE_ENV: 'production' }, { needs: 'database' }));
    const issuer = results.find((r) => r.check === 'issuer');
    assert.equal(issuer?.status, 'fail');
    assert.match(issuer?.detail ?? '', /GATEHOUSE_ISSUER unset/);
    assert.match(results.find((r) => r.check === 'mode')?.detail ?? '', /^production \(GATEHOUSE_ENV=production\)$/);
  });

  test('production: every unsafe setting is a warning naming what to change', () => {
    const config = loadConfig({
      GATEHOUSE_ENV: 'production',
      GATEHOUSE_SIGNING_KEYS: '/nonexistent/keys.json',
      GATEHOUSE_ISSUER: 'https://id.example.com',
      HOST: '0.0.0.0',
      GATEHOUSE_DATABASE_URL: 'memory:',
      GATEHOUSE_METRICS_PORT: '9464',
      GATEHOUSE_METRICS_HOST: '0.0.0.0',
      GATEHOUSE_LIMIT_LOGIN_USER_IP: 'off',
      GATEHOUSE_PASSWORD_MIN_LENGTH: '8',
      GATEHOUSE_LOG_LEVEL: 'debug',
      GATEHOUSE_REFRESH_GRACE_SECONDS: '10',
    });
    const results = configChecks(config);
    assert.deepEqual(byCheck(results), {
      mode: 'ok',
      issuer: 'ok',
      listen: 'warn',
      database: 'warn',
      redis: 'warn',
      mail: 'warn',
      metrics: 'warn',
      limits: 'warn',
      passwords: 'warn',
      'refresh-grace': 'warn',
      'log-level': 'warn',
    });
    assert.match(results.find((r) => r.check === 'limits')!.detail, /GATEHOUSE_LIMIT_LOGIN_USER_IP/);
    assert.match(results.find((r) => r.check === 'redis')!.detail, /one instance/);
  });

  test('trusting X-Forwarded-For from everyone is flagged', () => {
    const results = configChecks(loadConfig({ GATEHOUSE_ENV: 'development', GATEHOUSE_TRUSTED_PROXIES: '10.0.0.0/8,0.0.0.0/0' }));
    assert.equal(results.find((r) => r.check === 'trusted-proxies')?.status, 'warn');
  });
});

describe('keyChecks', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'gatehouse-doctor-keys-'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  const writeKeys = async (name: string, keys: unknown[], mode: number) => {
    const file = path.join(dir, name);
    await writeFile(file, JSON.stringify({ keys }), { mode });
    await chmod(file, mode);
    return file;
  };

  test('development without a key: a warning, and doctor creates nothing', async () => {
    const dataDir = path.join(dir, 'fresh');
    const results = await keyChecks(loadConfig({ GATEHOUSE_ENV: 'development', GATEHOUSE_DATA_DIR: dataDir }));
    assert.deepEqual(
      results.map((r) => r.status),
      ['warn'],
    );
    assert.match(results[0]!.detail, /no development key yet/);
    assert.equal(existsSync(dataDir), false);
  });

  test('a key file readable by others: production fails, development warns that production would refuse it', async () => {
    const file = await writeKeys('open.json', [await generateSigningJwk()], 0o644);
    const production = await keyChecks(loadConfig({ GATEHOUSE_ENV: 'production', GATEHOUSE_ISSUER: 'https://auth.example.com', GATEHOUSE_SIGNING_KEYS: file }));
    assert.deepEqual(
      production.map((r) => r.status),
      ['fail'],
    );
    assert.match(production[0]!.detail, /readable by other users/);
    const development = await keyChecks(loadConfig({ GATEHOUSE_ENV: 'development', GATEHOUSE_SIGNING_KEYS: file }));
    assert.deepEqual(
      development.map((r) => r.status),
      ['ok', 'warn'],
    );
    assert.match(development[1]!.detail, /^production would refuse: .*readable by other users/);
  });

  test('algorithm and RSA size are reported; a short RSA key and a symmetric key fail', async () => {
    const { privateKey } = await generateKeyPair('RS256', { modulusLength: 2048, extractable: true });
    const rsa = { ...(await exportJWK(privateKey)), kid: 'rsa-1', alg: 'RS256' };
    const good = await writeKeys('good.json', [await generateSigningJwk(), rsa], 0o600);
    const [line] = await keyChecks(loadConfig({ GATEHOUSE_ENV: 'production', GATEHOUSE_ISSUER: 'https://auth.example.com', GATEHOUSE_SIGNING_KEYS: good }));
    assert.equal(line?.status, 'ok');
    assert.match(line?.detail ?? '', /mode 600; signs with \S+ EdDSA \(Ed25519\); also verifies rsa-1 RS256 \(RSA 2048 bits\)/);

    const weak = await writeKeys(
      'weak.json',
      [
        { ...rsa, n: Buffer.alloc(128, 0xff).toString('base64url') },
        { kty: 'oct', k: 'c2VjcmV0', kid: 'hs', alg: 'HS256' },
      ],
      0o600,
    );
    const results = await keyChecks(loadConfig({ GATEHOUSE_ENV: 'production', GATEHOUSE_ISSUER: 'https://auth.example.com', GATEHOUSE_SIGNING_KEYS: weak }));
    assert.ok(results.every((r) => r.status === 'fail'));
    assert.ok(results.some((r) => /at least 2048 bits/.test(r.detail)));
    assert.ok(results.some((r) => /symmetric/.test(r.detail)));
  });
});

describe('keyChecks with stored keys', () => {
  test('development without a KEK: a warning naming what production needs; rotation off is a warning', async () => {
    const results = await keyChecks(loadConfig({ GATEHOUSE_ENV: 'development', GATEHOUSE_KEY_SOURCE: 'store' }));
    assert.deepEqual(byCheck(results), { 'signing-keys': 'warn', 'key-rotation': 'warn' });
    assert.match(results[0]!.detail, /GATEHOUSE_KEY_ENCRYPTION_KEY/);
  });

  test('a KEK and a rotation period: both ok', async () => {
    const kek = Buffer.from(Array.from({ length: 32 }, (_, i) => (i * 37 + 11) % 256)).toString('base64url');
    const results = await keyChecks(
      loadConfig({ GATEHOUSE_ENV: 'development', GATEHOUSE_KEY_SOURCE: 'store', GATEHOUSE_KEY_ENCRYPTION_KEY: kek, GATEHOUSE_KEY_ROTATION_DAYS: '30' }),
    );
    assert.deepEqual(byCheck(results), { 'signing-keys': 'ok', 'key-rotation': 'ok' });
  });
});

describe('resourceChecks', () => {
  test('GATEHOUSE_RESOURCES: absent says nothing; a valid file is ok; every problem of a bad one fails, one line each', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'gatehouse-doctor-resources-'));
    try {
      assert.deepEqual(await resourceChecks(loadConfig({ GATEHOUSE_ENV: 'development' })), []);
      const good = path.join(dir, 'good.json');
      await writeFile(good, JSON.stringify({ resources: [{ identifier: 'https://inventory.example/', scopes: ['profile'] }] }));
      const fine = await resourceChecks(loadConfig({ GATEHOUSE_ENV: 'development', GATEHOUSE_RESOURCES: good }));
      assert.deepEqual(
        fine.map((r) => r.status),
        ['ok'],
      );
      assert.match(fine[0]!.detail, /https:\/\/inventory\.example\//);
      const bad = path.join(dir, 'bad.json');
      await writeFile(bad, JSON.stringify({ resources: [{ identifier: 'https://a.example/#x', scopes: ['orders:read'] }] }));
      const broken = await resourceChecks(loadConfig({ GATEHOUSE_ENV: 'development', GATEHOUSE_RESOURCES: bad }));
      assert.deepEqual(
        broken.map((r) => r.status),
        ['fail', 'fail'],
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
