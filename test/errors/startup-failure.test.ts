import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { describe, test } from 'node:test';
import { ConfigError, StoreUnavailableError } from '../../src/errors/errors.js';
import { loadConfig, startupFailureLine } from '../../src/index.js';

describe('startupFailureLine: one line for a host app that cannot start', () => {
  test('a busy port names host:port; a configuration error lists every problem on one line, never the value', async () => {
    const holder = createServer();
    await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
    const { port } = holder.address() as { port: number };
    const second = createServer();
    const error = await new Promise<unknown>((resolve) => second.once('error', resolve).listen(port, '127.0.0.1'));
    await new Promise<void>((resolve) => holder.close(() => resolve()));
    assert.equal(startupFailureLine(error), `127.0.0.1:${port} is already in use; set PORT to a free port`);

    const secret = 'change-me-change-me-change-me-change-me';
    let configError: unknown;
    try {
      loadConfig({
        GATEHOUSE_ENV: 'production',
        GATEHOUSE_SIGNING_KEYS: 'keys.json',
        GATEHOUSE_ISSUER: 'http://auth.example.com',
        GATEHOUSE_API_KEY_PEPPER: secret,
      });
    } catch (caught) {
      configError = caught;
    }
    assert.ok(configError instanceof ConfigError);
    const line = startupFailureLine(configError) ?? '';
    assert.doesNotMatch(line, /\n/);
    assert.ok(!line.includes(secret));
    for (const problem of configError.problems) assert.ok(line.includes(problem), problem);
  });

  test('a store that does not answer is one line with its reason; anything else is a bug (undefined, so the stack prints)', () => {
    const line = startupFailureLine(new StoreUnavailableError('connection refused'));
    assert.ok(line !== undefined && !line.includes('\n'));
    assert.equal(startupFailureLine(new TypeError('x is undefined')), undefined);
    assert.equal(startupFailureLine(undefined), undefined);
  });
});

describe('loadConfig defaultDataDir', () => {
  test('a host app names its own data directory; GATEHOUSE_DATA_DIR still wins', () => {
    const own = loadConfig({ GATEHOUSE_ENV: 'development' }, { defaultDataDir: '.gatehouse/orders-api' });
    assert.equal(own.dataDir, '.gatehouse/orders-api');
    assert.deepEqual(own.database, { kind: 'pglite-dir', path: '.gatehouse/orders-api/db' });
    assert.equal(loadConfig({ GATEHOUSE_ENV: 'development' }).dataDir, '.gatehouse');
    assert.equal(loadConfig({ GATEHOUSE_ENV: 'development', GATEHOUSE_DATA_DIR: '/srv/gh' }, { defaultDataDir: 'x' }).dataDir, '/srv/gh');
  });
});
