import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { loadConfig, type Config } from '../../src/config/config.js';
import { allSettings, SETTINGS, type SettingName } from '../../src/config/settings.js';
import { withSettingsTable } from '../../src/config/settings-table.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/**
 * Which settings each Config field comes from; a Record over `keyof Config`, so a new field does not
 * compile until it names its settings. `[]`: decided by the mode rule or the command, not a setting.
 */
const FIELD_SOURCES: Record<keyof Config, readonly string[]> = {
  env: ['GATEHOUSE_ENV'],
  envSource: [],
  envReason: [],
  needs: [],
  host: ['HOST'],
  port: ['PORT'],
  metrics: ['GATEHOUSE_METRICS_PORT', 'GATEHOUSE_METRICS_HOST'],
  issuer: ['GATEHOUSE_ISSUER'],
  audience: ['GATEHOUSE_AUDIENCE'],
  signingKeysPath: ['GATEHOUSE_SIGNING_KEYS'],
  resourcesPath: ['GATEHOUSE_RESOURCES'],
  signingKeySource: ['GATEHOUSE_KEY_SOURCE'],
  keyEncryptionKey: ['GATEHOUSE_KEY_ENCRYPTION_KEY'],
  jwksMaxAgeSeconds: ['GATEHOUSE_JWKS_MAX_AGE_SECONDS'],
  keyRotationDays: ['GATEHOUSE_KEY_ROTATION_DAYS'],
  database: ['GATEHOUSE_DATABASE_URL'],
  databaseStatementTimeoutMs: ['GATEHOUSE_DATABASE_STATEMENT_TIMEOUT_MS'],
  databaseNamedStatements: ['GATEHOUSE_DATABASE_NAMED_STATEMENTS'],
  redisUrl: ['GATEHOUSE_REDIS_URL'],
  redisSentinel: ['GATEHOUSE_REDIS_SENTINELS', 'GATEHOUSE_REDIS_SENTINEL_NAME'],
  redisKeyPrefix: ['GATEHOUSE_REDIS_KEY_PREFIX'],
  accessTokenTtlSeconds: ['GATEHOUSE_ACCESS_TOKEN_TTL'],
  revocationFeedSecrets: ['GATEHOUSE_REVOCATION_FEED_SECRETS'],
  apiKeyPeppers: ['GATEHOUSE_API_KEY_PEPPER'],
  sessionTtlSeconds: ['GATEHOUSE_SESSION_TTL'],
  sessionIdleTtlSeconds: ['GATEHOUSE_SESSION_IDLE_TTL'],
  refreshGraceSeconds: ['GATEHOUSE_REFRESH_GRACE_SECONDS'],
  auditRetentionDays: ['GATEHOUSE_AUDIT_RETENTION_DAYS'],
  trustedProxies: ['GATEHOUSE_TRUSTED_PROXIES'],
  allowedOrigins: ['GATEHOUSE_ALLOWED_ORIGINS'],
  corsOrigins: ['GATEHOUSE_CORS_ORIGINS'],
  limits: allSettings()
    .filter((s) => s.name.startsWith('GATEHOUSE_LIMIT_'))
    .map((s) => s.name),
  passwordMinLength: ['GATEHOUSE_PASSWORD_MIN_LENGTH'],
  smtp: ['GATEHOUSE_SMTP_URL'],
  mailFrom: ['GATEHOUSE_MAIL_FROM'],
  emailVerification: ['GATEHOUSE_EMAIL_VERIFICATION'],
  bodyLimitBytes: ['GATEHOUSE_BODY_LIMIT'],
  dataDir: ['GATEHOUSE_DATA_DIR'],
  logLevel: ['GATEHOUSE_LOG_LEVEL'],
};

describe('settings as data', () => {
  test('the README settings table is the one generated from the table (run npm run docs:settings)', () => {
    const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
    assert.equal(withSettingsTable(readme), readme, 'README.md is out of date: run npm run docs:settings');
  });

  test('every Config field comes from the table, and every setting feeds a field', () => {
    const config = loadConfig({ GATEHOUSE_ENV: 'development' });
    assert.deepEqual(Object.keys(config).sort(), Object.keys(FIELD_SOURCES).sort());
    const named = new Set(allSettings().map((s) => s.name));
    const used = Object.values(FIELD_SOURCES).flat();
    for (const name of used) assert.ok(named.has(name), `${name} is not in src/config/settings.ts`);
    assert.deepEqual([...named].sort(), [...new Set(used)].sort());
    for (const setting of allSettings()) assert.ok(setting.doc.length > 0 && setting.shownDefault.length > 0, setting.name);
  });

  test("a field with a plain default takes the table's default", () => {
    const config = loadConfig({ GATEHOUSE_ENV: 'development' });
    const plain: Partial<Record<keyof Config, SettingName>> = {
      host: 'HOST',
      port: 'PORT',
      signingKeySource: 'GATEHOUSE_KEY_SOURCE',
      jwksMaxAgeSeconds: 'GATEHOUSE_JWKS_MAX_AGE_SECONDS',
      redisKeyPrefix: 'GATEHOUSE_REDIS_KEY_PREFIX',
      accessTokenTtlSeconds: 'GATEHOUSE_ACCESS_TOKEN_TTL',
      sessionTtlSeconds: 'GATEHOUSE_SESSION_TTL',
      sessionIdleTtlSeconds: 'GATEHOUSE_SESSION_IDLE_TTL',
      refreshGraceSeconds: 'GATEHOUSE_REFRESH_GRACE_SECONDS',
      auditRetentionDays: 'GATEHOUSE_AUDIT_RETENTION_DAYS',
      passwordMinLength: 'GATEHOUSE_PASSWORD_MIN_LENGTH',
      bodyLimitBytes: 'GATEHOUSE_BODY_LIMIT',
      dataDir: 'GATEHOUSE_DATA_DIR',
      logLevel: 'GATEHOUSE_LOG_LEVEL',
    };
    for (const [field, name] of Object.entries(plain) as [keyof Config, SettingName][]) assert.deepEqual(config[field], SETTINGS[name].fallback, field);
  });

  test('a secret setting has no schema, so no message can quote its value', () => {
    for (const setting of allSettings().filter((s) => s.secret === true)) assert.equal(setting.schema, undefined, setting.name);
  });
});
