import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { loadConfig } from '../../src/config/config.js';
import { ConfigError } from '../../src/errors/errors.js';
import { DEFAULT_LIMITS, LIMIT_NAMES, parseLimitSpec } from '../../src/throttle/limit-spec.js';

const DEV = { GATEHOUSE_ENV: 'development' };

function problemsOf(env: Record<string, string>): readonly string[] {
  try {
    loadConfig({ ...DEV, ...env });
  } catch (error) {
    assert.ok(error instanceof ConfigError, String(error));
    return error.problems;
  }
  assert.fail(`loadConfig accepted ${JSON.stringify(env)}`);
}

describe('parseLimitSpec: refuses anything but <count>/<window> and off', () => {
  const refused = [
    '',
    ' ',
    '10',
    '10/',
    '/15m',
    '10/15',
    '10/m',
    '0/15m',
    '10/0m',
    '10/15x',
    '10/15M',
    '-1/15m',
    '1.5/15m',
    '10/1.5m',
    ' 10/15m',
    '10/15m ',
    '10 / 15m',
    '10/15 m',
    'OFF',
    'Off',
    'none',
    '0',
    'unlimited',
    '0x10/1m',
    '1e3/1m',
    '010/15m',
    '１０/15m',
    '10/１５m',
    '10/15m/2',
    '10/8d',
    '1/169h',
    '1000001/1m',
    '10/15m\n',
    'off ',
    '10/15min',
  ];
  for (const raw of refused) {
    test(`${JSON.stringify(raw)} is refused with the format in the message`, () => {
      assert.throws(
        () => parseLimitSpec(raw),
        (error: unknown) => error instanceof TypeError && /<count>\/<window>.*"off"/.test(error.message),
      );
    });
  }
});

describe('parseLimitSpec: values', () => {
  test('count and window with each unit', () => {
    assert.deepEqual(parseLimitSpec('10/15m'), { count: 10, windowSeconds: 900 });
    assert.deepEqual(parseLimitSpec('1/1s'), { count: 1, windowSeconds: 1 });
    assert.deepEqual(parseLimitSpec('100/1h'), { count: 100, windowSeconds: 3600 });
    assert.deepEqual(parseLimitSpec('5/2d'), { count: 5, windowSeconds: 172_800 });
    assert.deepEqual(parseLimitSpec('1000000/7d'), { count: 1_000_000, windowSeconds: 604_800 });
  });

  test('off is null, and a parsed spec is frozen', () => {
    assert.equal(parseLimitSpec('off'), null);
    assert.ok(Object.isFrozen(parseLimitSpec('10/15m')));
  });

  test('the issue defaults, plus the two it left open', () => {
    assert.deepEqual(DEFAULT_LIMITS, {
      LOGIN_USER_IP: '10/15m',
      LOGIN_USER: '100/15m',
      LOGIN_IP: '100/15m',
      REGISTER_IP: '100/1h',
      REFRESH_SESSION: '60/1m',
      PASSWORD_CHANGE_USER: '10/15m',
      REVOKE_IP: '100/1m',
      GLOBAL_IP: '1200/1m',
      API_KEY: '600/1m',
      WS_TICKET: '60/1m',
      MAIL_REQUEST_IP: '30/15m',
      MAIL_ACCOUNT: '1/1m',
      PASSKEY_OPTIONS_IP: '60/1m',
      OTP_USER: '5/15m',
    });
  });
});

describe('GATEHOUSE_LIMIT_* in the configuration', () => {
  test('a misspelt limit is an error naming it, not silently ignored', () => {
    const problems = problemsOf({ GATEHOUSE_LIMIT_LOGIN_USERIP: 'off' });
    assert.equal(problems.length, 1, problems.join('\n'));
    assert.match(problems[0] ?? '', /^GATEHOUSE_LIMIT_LOGIN_USERIP: unknown limit \(known: LOGIN_USER_IP, /);
  });

  test('an invalid value is one line naming the variable, never replaced by the default', () => {
    for (const name of LIMIT_NAMES) {
      const problems = problemsOf({ [`GATEHOUSE_LIMIT_${name}`]: '10 per minute' });
      assert.equal(problems.length, 1, problems.join('\n'));
      assert.match(problems[0] ?? '', new RegExp(`^GATEHOUSE_LIMIT_${name}: must be <count>/<window> .*\\(got "10 per minute"\\)$`));
    }
  });

  test('several invalid limits: one line each', () => {
    const problems = problemsOf({ GATEHOUSE_LIMIT_LOGIN_IP: '0/1m', GATEHOUSE_LIMIT_GLOBAL_IP: '5', GATEHOUSE_LIMIT_NOPE: '1/1m' });
    assert.deepEqual(problems.map((p) => p.split(':')[0] ?? '').sort(), ['GATEHOUSE_LIMIT_GLOBAL_IP', 'GATEHOUSE_LIMIT_LOGIN_IP', 'GATEHOUSE_LIMIT_NOPE']);
    for (const p of problems) assert.doesNotMatch(p, /\n/);
  });

  test('each limit is read from its own variable; off switches it off; empty keeps the default', () => {
    const config = loadConfig({ ...DEV, GATEHOUSE_LIMIT_LOGIN_USER_IP: '3/1m', GATEHOUSE_LIMIT_GLOBAL_IP: 'off', GATEHOUSE_LIMIT_REVOKE_IP: '' });
    assert.deepEqual(config.limits.LOGIN_USER_IP, { count: 3, windowSeconds: 60 });
    assert.equal(config.limits.GLOBAL_IP, null);
    assert.deepEqual(config.limits.REVOKE_IP, { count: 100, windowSeconds: 60 });
    assert.deepEqual(config.limits.LOGIN_USER, { count: 100, windowSeconds: 900 });
    assert.ok(Object.isFrozen(config.limits));
  });
});
