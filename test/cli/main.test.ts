import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { lines, runCli } from './cli-process.js';

const env = { GATEHOUSE_ENV: 'development', GATEHOUSE_DATABASE_URL: 'memory:' };

describe('gatehouse (the entry point)', () => {
  test('--help lists every command and the exit codes, exit 0', async () => {
    const result = await runCli(['--help'], { env });
    assert.equal(result.status, 0, result.stderr);
    for (const command of ['serve', 'users', 'routes', 'doctor', 'tenants']) assert.match(result.stdout, new RegExp(`^  ${command} `, 'm'));
    assert.match(result.stdout, /^exit codes:/m);
    assert.equal(result.stderr, '');
  });

  test('an unknown command: the usage on stderr, exit 2, no stack', async () => {
    const result = await runCli(['frobnicate'], { env });
    assert.equal(result.status, 2);
    assert.equal(lines(result.stderr)[0], 'gatehouse: unknown command "frobnicate"');
    assert.match(result.stderr, /usage: gatehouse <command>/);
    assert.doesNotMatch(result.stderr, /\n\s+at /);
  });
});
