import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { digestRefreshToken, generateRefreshToken } from '../../src/sessions/refresh-token.js';
import { parseLimitSpec, type LimitName, type Limits } from '../../src/throttle/limit-spec.js';
import { createThrottle } from '../../src/throttle/throttle.js';

const ALL_OFF: Limits = {
  API_KEY: null,
  WS_TICKET: null,
  OTP_USER: null,
  LOGIN_USER_IP: null,
  LOGIN_USER: null,
  LOGIN_IP: null,
  REGISTER_IP: null,
  REFRESH_SESSION: null,
  PASSWORD_CHANGE_USER: null,
  REVOKE_IP: null,
  GLOBAL_IP: null,
  MAIL_REQUEST_IP: null,
  MAIL_ACCOUNT: null,
  PASSKEY_OPTIONS_IP: null,
};

/** A throttle with only the given limits on, sessions looked up in `sessions` (digest → id), on a clock. */
function harness(on: Partial<Record<LimitName, string>>, sessions = new Map<string, string>()) {
  let t = 1_700_000_000_000;
  const now = () => t;
  const limits = { ...ALL_OFF, ...Object.fromEntries(Object.entries(on).map(([name, spec]) => [name, parseLimitSpec(spec)])) };
  let lookups = 0;
  const throttle = createThrottle({
    limits,
    now,
    sessionIdOfRefreshDigest: async (digest) => {
      lookups++;
      return sessions.get(digest);
    },
  });
  return { throttle, advance: (ms: number) => (t += ms), lookups: () => lookups };
}

async function refusedAfter(attempt: () => Promise<unknown>, times: number): Promise<(string | undefined)[]> {
  const out: (string | undefined)[] = [];
  for (let i = 0; i < times; i++) out.push(((await attempt()) as { limit?: string } | undefined)?.limit);
  return out;
}

describe('request limits: malicious cases', () => {
  test('MAIL_ACCOUNT: one mail per account and kind per window, whatever the flood; other accounts and kinds keep theirs', async () => {
    const { throttle, advance } = harness({ MAIL_ACCOUNT: '1/1m' });
    assert.deepEqual(await refusedAfter(() => throttle.requests.accountMail('password_reset', 'alice'), 5), [
      undefined,
      'MAIL_ACCOUNT',
      'MAIL_ACCOUNT',
      'MAIL_ACCOUNT',
      'MAIL_ACCOUNT',
    ]);
    assert.equal(await throttle.requests.accountMail('password_reset', 'bob'), undefined);
    assert.equal(await throttle.requests.accountMail('email_verification', 'alice'), undefined);
    advance(60_000);
    assert.equal(await throttle.requests.accountMail('password_reset', 'alice'), undefined);
  });

  test('REFRESH_SESSION counts the session, not the token: a client rotating in a loop is stopped', async () => {
    const tokens = Array.from({ length: 4 }, () => generateRefreshToken());
    const sessions = new Map(tokens.map((tok) => [digestRefreshToken(tok), 'session-1']));
    const { throttle } = harness({ REFRESH_SESSION: '3/1m' }, sessions);
    const results = [];
    for (const token of tokens) results.push((await throttle.requests.refresh(token))?.limit);
    assert.deepEqual(results, [undefined, undefined, undefined, 'REFRESH_SESSION']);
  });

  test('REFRESH_SESSION: one session flooding does not touch another', async () => {
    const a = generateRefreshToken();
    const b = generateRefreshToken();
    const { throttle } = harness(
      { REFRESH_SESSION: '1/1m' },
      new Map([
        [digestRefreshToken(a), 'A'],
        [digestRefreshToken(b), 'B'],
      ]),
    );
    assert.equal(await throttle.requests.refresh(a), undefined);
    assert.equal((await throttle.requests.refresh(a))?.limit, 'REFRESH_SESSION');
    assert.equal(await throttle.requests.refresh(b), undefined);
  });

  test('garbage refresh tokens cost no session lookup', async () => {
    const { throttle, lookups } = harness({ REFRESH_SESSION: '1/1m' });
    for (const garbage of ['', 'x', 'ghr_short', 'eyJhbGciOi.x.y', `ghr_${'A'.repeat(44)}`]) assert.equal(await throttle.requests.refresh(garbage), undefined);
    assert.equal(lookups(), 0);
  });

  test('GLOBAL_IP: the ceiling holds per address (IPv6 per /64), and the window ends it', async () => {
    const { throttle, advance } = harness({ GLOBAL_IP: '3/1m' });
    assert.deepEqual(await refusedAfter(() => throttle.requests.global('2001:db8::1'), 2), [undefined, undefined]);
    assert.deepEqual(await refusedAfter(() => throttle.requests.global('2001:db8::ffff'), 2), [undefined, 'GLOBAL_IP']);
    assert.equal(await throttle.requests.global('198.51.100.1'), undefined);
    advance(60_000);
    assert.equal(await throttle.requests.global('2001:db8::1'), undefined);
  });

  test('PASSWORD_CHANGE_USER counts per user, from any address', async () => {
    const { throttle } = harness({ PASSWORD_CHANGE_USER: '2/15m' });
    assert.deepEqual(await refusedAfter(() => throttle.requests.passwordChange('user-1'), 3), [undefined, undefined, 'PASSWORD_CHANGE_USER']);
    assert.equal(await throttle.requests.passwordChange('user-2'), undefined);
  });

  test('REGISTER_IP and REVOKE_IP count per address, each its own budget', async () => {
    const { throttle } = harness({ REGISTER_IP: '2/1h', REVOKE_IP: '1/1m' });
    assert.deepEqual(await refusedAfter(() => throttle.requests.register('203.0.113.1'), 3), [undefined, undefined, 'REGISTER_IP']);
    assert.deepEqual(await refusedAfter(() => throttle.requests.revoke('203.0.113.1'), 2), [undefined, 'REVOKE_IP']);
    assert.equal(await throttle.requests.register('203.0.113.2'), undefined);
  });
});

describe('request limits: off', () => {
  test('a limit set to off never refuses and never looks a session up', async () => {
    const token = generateRefreshToken();
    const { throttle, lookups } = harness({}, new Map([[digestRefreshToken(token), 'S']]));
    for (let i = 0; i < 100; i++) {
      assert.equal(await throttle.requests.global('203.0.113.1'), undefined);
      assert.equal(await throttle.requests.register('203.0.113.1'), undefined);
      assert.equal(await throttle.requests.revoke('203.0.113.1'), undefined);
      assert.equal(await throttle.requests.passwordChange('u'), undefined);
      assert.equal(await throttle.requests.refresh(token), undefined);
    }
    assert.equal(lookups(), 0);
  });
});
