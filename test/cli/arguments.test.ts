import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { CommandError, integerOption, parseCommand, UsageError } from '../../src/cli/arguments.js';
import { reportError } from '../../src/cli/report-error.js';
import { ConfigError, NotFoundError, PasswordPolicyError, StoreUnavailableError, ValidationError } from '../../src/errors/errors.js';

const SPEC = { usage: 'usage: test', options: { json: { type: 'boolean' }, limit: { type: 'string' } }, positionals: ['user', 'role'], optional: 1 } as const;

function usageMessage(argv: string[]): string {
  try {
    parseCommand(argv, SPEC);
  } catch (error) {
    assert.ok(error instanceof UsageError);
    return error.message;
  }
  assert.fail(`no usage error for ${argv.join(' ')}`);
}

describe('parseCommand', () => {
  test('options and positionals; --help wins over anything else', () => {
    const parsed = parseCommand(['alice', '--json', '--limit', '5'], SPEC);
    assert.ok(!parsed.help);
    assert.deepEqual(parsed.positionals, ['alice']);
    assert.equal(parsed.values.json, true);
    assert.equal(parsed.values.limit, '5');
    assert.deepEqual(parseCommand(['--nonsense', '-h'], SPEC), { help: true });
  });

  test('malicious: an unknown option is named, its value never repeated, and a password-like one explained', () => {
    for (const argv of [
      ['alice', '--password=hunter2-secret'],
      ['alice', '--password', 'hunter2-secret'],
      ['alice', '-p', 'hunter2-secret'],
    ]) {
      const message = usageMessage(argv);
      assert.doesNotMatch(message, /hunter2/, argv.join(' '));
    }
    assert.match(usageMessage(['alice', '--password=hunter2-secret']), /^unknown option --password \(a password is never read from the command line/);
    assert.equal(usageMessage(['alice', '--colour']), 'unknown option --colour');
  });

  test('a missing positional, an extra one (not echoed), a missing option value, a value given to a flag', () => {
    assert.equal(usageMessage([]), 'missing <user>');
    assert.equal(usageMessage(['alice', 'admin', 'hunter2-secret']), 'too many arguments');
    assert.equal(usageMessage(['alice', '--limit']), '--limit needs a value');
    assert.equal(usageMessage(['alice', '--json=yes']), '--json takes no value');
  });

  test('integerOption: bounds and shape, as a usage error naming the option', () => {
    assert.equal(integerOption(undefined, 'limit', 50, 1, 200, 'u'), 50);
    assert.equal(integerOption('200', 'limit', 50, 1, 200, 'u'), 200);
    for (const bad of ['0', '201', '-1', '1e2', '5.5', ' 5', ''])
      assert.throws(() => integerOption(bad, 'limit', 50, 1, 200, 'u'), /--limit must be a whole number from 1 to 200/);
  });
});

describe('reportError: the exit codes and one line per failure, no stack for a known error', () => {
  const report = (error: unknown) => {
    let text = '';
    const code = reportError(error, { stderr: { write: (t: string) => (text += t) } });
    return { code, text };
  };

  test('usage 2 (with the usage), not found 3, refused 1, config one line per problem', () => {
    assert.deepEqual(report(new UsageError('missing <user>', 'usage: x')), { code: 2, text: 'gatehouse: missing <user>\n\nusage: x\n' });
    assert.deepEqual(report(new NotFoundError('no such user: "bob"')), { code: 3, text: 'gatehouse: no such user: "bob"\n' });
    assert.deepEqual(report(new PasswordPolicyError('too_short', 'password must be at least 15 characters')), {
      code: 1,
      text: 'gatehouse: password must be at least 15 characters [ERR_PASSWORD_POLICY]\n',
    });
    assert.deepEqual(report(new ValidationError([{ field: 'username', message: 'must be 3-64 characters' }])), {
      code: 1,
      text: 'gatehouse: username: must be 3-64 characters [ERR_VALIDATION]\n',
    });
    assert.deepEqual(report(new ConfigError(['PORT: must be a port number', 'GATEHOUSE_ENV: bad'])), {
      code: 1,
      text: 'gatehouse: PORT: must be a port number\ngatehouse: GATEHOUSE_ENV: bad\n',
    });
    assert.deepEqual(report(new StoreUnavailableError('cannot connect to PostgreSQL')), {
      code: 1,
      text: 'gatehouse: service temporarily unavailable (cannot connect to PostgreSQL) [ERR_STORE_UNAVAILABLE]\n',
    });
    assert.deepEqual(report(new CommandError('interrupted', 130)), { code: 130, text: 'gatehouse: interrupted\n' });
  });

  test('an unexpected error (a bug) keeps its stack', () => {
    const { code, text } = report(new TypeError('boom'));
    assert.equal(code, 1);
    assert.match(text, /^gatehouse: TypeError: boom\n\s+at /);
  });
});
