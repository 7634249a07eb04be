import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { allSettings } from '../../src/config/settings.js';
import { doctorCommand } from '../../src/cli/doctor-command.js';
import type { CliIo } from '../../src/cli/cli-services.js';
import { openDatabase } from '../../src/stores/db/database.js';
import { createTestStores, testStoreProfile, type TestStores } from '../support/test-stores.js';
import { runCli, tempDeployment } from './cli-process.js';

function fakeIo(env: Record<string, string>): CliIo & { out: () => string } {
  let out = '';
  return { stdin: new PassThrough(), stdout: { write: (t: string) => (out += t) }, stderr: { write: () => true }, env, out: () => out };
}

describe('gatehouse doctor', () => {
  let deployment: Awaited<ReturnType<typeof tempDeployment>>;
  let stores: TestStores;
  let env: Record<string, string>;
  before(async () => {
    deployment = await tempDeployment();
    stores = await createTestStores();
    // Embedded: a PGlite directory the server has created and migrated; real: PostgreSQL and Redis.
    env =
      testStoreProfile === 'embedded'
        ? deployment.env
        : {
            ...deployment.env,
            GATEHOUSE_DATABASE_URL: stores.databaseUrl,
            GATEHOUSE_REDIS_URL: stores.redisUrl!,
            GATEHOUSE_REDIS_KEY_PREFIX: stores.redisKeyPrefix,
          };
    const database = await openDatabase(
      testStoreProfile === 'embedded' ? { kind: 'pglite-dir', path: env.GATEHOUSE_DATABASE_URL! } : { kind: 'postgres', url: stores.databaseUrl },
    );
    await database.close();
  });
  after(async () => {
    await deployment.cleanup();
    await stores.cleanup();
  });

  test('development with a reachable database: warns about development mode, exit 0 (the real CLI)', async () => {
    const result = await runCli(['doctor'], { env });
    assert.equal(result.status, 0, result.stdout + result.stderr);
    const rows = result.stdout.split('\n').filter((l) => /^(ok|warn|fail) /.test(l));
    assert.ok(
      rows.every((l) => /^(ok|warn|fail) {2,}\S+ {2,}\S/.test(l)),
      result.stdout,
    );
    assert.match(result.stdout, /^warn +mode +development/m);
    assert.match(result.stdout, /^ok +database +(PGlite at|PostgreSQL at) .* answers/m);
    assert.match(result.stdout, /^ok +migrations +all \d+ applied/m);
    assert.match(result.stdout, /^ok +clock /m);
    if (testStoreProfile === 'real') assert.match(result.stdout, /^ok +redis +Redis at .* answers/m);
    assert.doesNotMatch(result.stdout, /^fail/m);
    assert.match(result.stdout, /\n0 failed; unsafe for production: mode, issuer, signing-keys\n$/);
    assert.equal(result.stderr, '');
  });

  test('an unreachable database fails, exit 1, and the line never shows the URL password', async () => {
    const io = fakeIo({ ...deployment.env, GATEHOUSE_DATABASE_URL: 'postgres://gatehouse:s3cret-pw@127.0.0.1:1/gatehouse' });
    assert.equal(await doctorCommand([], io), 1);
    assert.match(io.out(), /^fail +database +PostgreSQL at 127\.0\.0\.1:1\/gatehouse: cannot connect \(ECONNREFUSED/m);
    assert.doesNotMatch(io.out(), /s3cret/);
  });

  test('invalid configuration: one fail line per problem, exit 1', async () => {
    const io = fakeIo({ GATEHOUSE_ENV: 'production', PORT: 'abc' });
    assert.equal(await doctorCommand(['--json'], io), 1);
    const report = JSON.parse(io.out()) as { checks: { status: string; check: string; detail: string }[]; failed: number };
    // Doctor signs nothing, so a missing signing key is no config problem (keyChecks reports keys).
    assert.deepEqual(report.checks.map((c) => `${c.status} ${c.check} ${c.detail.split(':')[0]}`).sort(), ['fail config PORT']);
    assert.equal(report.failed, 1);
  });

  test('--settings lists every setting of the table: set values, defaults, never a secret', async () => {
    const kek = 'k'.repeat(43);
    const io = fakeIo({ PORT: '8123', GATEHOUSE_KEY_ENCRYPTION_KEY: kek, GATEHOUSE_LIMIT_LOGIN_IP: 'off' });
    assert.equal(await doctorCommand(['--settings', '--json'], io), 0);
    const { settings } = JSON.parse(io.out()) as { settings: { name: string; source: string; value: string }[] };
    assert.deepEqual(
      settings.map((s) => s.name),
      allSettings().map((s) => s.name),
    );
    const byName = new Map(settings.map((s) => [s.name, s]));
    assert.deepEqual(byName.get('PORT'), { name: 'PORT', source: 'set', value: '8123' });
    assert.deepEqual(byName.get('GATEHOUSE_LIMIT_LOGIN_IP'), { name: 'GATEHOUSE_LIMIT_LOGIN_IP', source: 'set', value: 'off' });
    assert.deepEqual(byName.get('GATEHOUSE_ACCESS_TOKEN_TTL'), { name: 'GATEHOUSE_ACCESS_TOKEN_TTL', source: 'default', value: '`900`' });
    assert.equal(byName.get('GATEHOUSE_KEY_ENCRYPTION_KEY')?.source, 'set');
    assert.ok(!io.out().includes(kek), 'a secret is never listed');
  });
});
