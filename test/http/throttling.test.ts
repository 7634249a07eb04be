import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { LightMyRequestResponse } from 'fastify';
import { bearer, startTestApp, TEST_PASSWORD, type TestApp } from '../support/test-app.js';
import { testStoreProfile } from '../support/test-stores.js';

const FORM = { 'content-type': 'application/x-www-form-urlencoded' };
const WRONG = 'not the password at all, sorry';
/** Every request of these tests comes through a proxy on 127.0.0.1 that names the client. */
const PROXIED = { GATEHOUSE_TRUSTED_PROXIES: '127.0.0.1' };

function from(ip: string | undefined): Record<string, string> {
  return ip === undefined ? {} : { 'x-forwarded-for': ip };
}

function passwordGrant(t: TestApp, username: string, password: string, ip?: string, remoteAddress?: string): Promise<LightMyRequestResponse> {
  const payload = new URLSearchParams({ grant_type: 'password', username, password }).toString();
  return t.inject({
    method: 'POST',
    url: '/auth/token',
    headers: { ...FORM, ...from(ip) },
    payload,
    ...(remoteAddress === undefined ? {} : { remoteAddress }),
  });
}

function jsonLogin(t: TestApp, username: string, password: string, ip?: string): Promise<LightMyRequestResponse> {
  return t.inject({ method: 'POST', url: '/auth/login', headers: from(ip), payload: { username, password } });
}

/**
 * Counts every argon2 computation the app asks of its hasher from now on: `hash` and `verify`
 * (`dummyVerify` is a `verify` of a cached dummy hash, which `warmUp` creates beforehand).
 */
function countHashing(t: TestApp): () => number {
  let count = 0;
  const hasher = t.services.hasher as unknown as Record<'hash' | 'verify', (...args: unknown[]) => Promise<unknown>>;
  for (const method of ['hash', 'verify'] as const) {
    const original = hasher[method].bind(hasher);
    hasher[method] = async (...args: unknown[]) => {
      count++;
      return original(...args);
    };
  }
  return () => count;
}

/** The throttled answer: 429, whole-second Retry-After, and no other clue. */
function assertThrottled(res: LightMyRequestResponse, style: 'oauth' | 'problem'): number {
  assert.equal(res.statusCode, 429, res.body);
  const retryAfter = String(res.headers['retry-after']);
  assert.match(retryAfter, /^[1-9][0-9]*$/, 'Retry-After in whole seconds');
  if (style === 'oauth') {
    assert.match(String(res.headers['content-type']), /^application\/json\b/);
    assert.equal(res.headers['cache-control'], 'no-store');
    assert.deepEqual(res.json(), { error: 'slow_down', error_description: 'too many requests; try again later' });
  } else {
    assert.match(String(res.headers['content-type']), /^application\/problem\+json\b/);
    const { request_id: requestId, ...body } = res.json();
    assert.equal(requestId, res.headers['x-request-id']);
    assert.deepEqual(body, {
      type: 'urn:gatehouse:error:ERR_THROTTLED',
      title: 'Too many requests',
      status: 429,
      code: 'ERR_THROTTLED',
      detail: 'too many requests; try again later',
    });
  }
  return Number(retryAfter);
}

/** Creates the hasher's cached dummy hash, so later counts are of logins only. */
async function warmUp(t: TestApp): Promise<void> {
  await t.services.hasher.dummyVerify('warm up');
}

function assertInvalidGrant(res: LightMyRequestResponse): void {
  assert.equal(res.statusCode, 400, res.body);
  assert.equal(res.json().error, 'invalid_grant');
}

describe('login throttling over HTTP: malicious cases', () => {
  let t: TestApp;
  before(async () => {
    t = await startTestApp({
      env: { ...PROXIED, GATEHOUSE_LIMIT_LOGIN_USER_IP: '3/15m', GATEHOUSE_LIMIT_LOGIN_USER: '5/15m', GATEHOUSE_LIMIT_LOGIN_IP: '8/15m' },
    });
    for (const name of ['victim', 'alice', 'bob', 'carol', 'dave', 'erin', 'henry']) await t.register(name);
    await warmUp(t);
  });
  after(() => t.close());

  test('credential stuffing: one address, many usernames: refused after LOGIN_IP failures, with no hashing', async () => {
    const hashes = countHashing(t);
    for (let i = 0; i < 8; i++) assertInvalidGrant(await passwordGrant(t, `stuffed${i}`, WRONG, '198.51.100.1'));
    assert.equal(hashes(), 8);
    for (let i = 8; i < 20; i++) assertThrottled(await passwordGrant(t, `stuffed${i}`, WRONG, '198.51.100.1'), 'oauth');
    assertThrottled(await passwordGrant(t, 'alice', TEST_PASSWORD, '198.51.100.1'), 'oauth');
    assert.equal(hashes(), 8, 'refused attempts hash nothing, and the right password is not let through either');
    // The address next door is a different client.
    assert.equal((await passwordGrant(t, 'alice', TEST_PASSWORD, '198.51.100.2')).statusCode, 200);
  });

  test('one username from many addresses: refused at new addresses; the victim still logs in from one he used before', async () => {
    assert.equal((await passwordGrant(t, 'victim', TEST_PASSWORD, '192.0.2.10')).statusCode, 200, 'the victim, yesterday, from home');
    const hashes = countHashing(t);
    for (let i = 1; i <= 5; i++) assertInvalidGrant(await passwordGrant(t, 'victim', WRONG, `203.0.113.${i}`));
    for (let i = 6; i <= 12; i++) assertThrottled(await passwordGrant(t, 'victim', WRONG, `203.0.113.${i}`), 'oauth');
    assert.equal(hashes(), 5);
    // The attacker's fresh addresses are refused even with the right password...
    assertThrottled(await passwordGrant(t, 'victim', TEST_PASSWORD, '203.0.113.200'), 'oauth');
    // ...while the victim, from home, is not locked out: a typo, then the right password.
    assertInvalidGrant(await passwordGrant(t, 'victim', WRONG, '192.0.2.10'));
    assert.equal((await passwordGrant(t, 'victim', TEST_PASSWORD, '192.0.2.10')).statusCode, 200);
    assert.equal((await jsonLogin(t, 'victim', TEST_PASSWORD, '192.0.2.10')).statusCode, 200);
  });

  test('throttled answers are identical for an existing and a non-existing user, at both login endpoints', async () => {
    for (const [name, endpoint, style] of [
      ['form', passwordGrant, 'oauth'],
      ['json', jsonLogin, 'problem'],
    ] as const) {
      const answers: LightMyRequestResponse[] = [];
      for (const [username, ip] of [
        [name === 'form' ? 'bob' : 'henry', `198.51.100.${name === 'form' ? 11 : 21}`],
        [`nobody-${name}`, `198.51.100.${name === 'form' ? 12 : 22}`],
      ] as const) {
        for (let i = 0; i < 3; i++) {
          const res = await endpoint(t, username, WRONG, ip);
          assert.ok([400, 401].includes(res.statusCode), `${username} ${ip} #${i}: ${res.statusCode} ${res.body}`);
        }
        answers.push(await endpoint(t, username, WRONG, ip));
      }
      const [real, ghost] = answers as [LightMyRequestResponse, LightMyRequestResponse];
      assertThrottled(real, style);
      assertThrottled(ghost, style);
      const strip = (res: LightMyRequestResponse) => {
        const { request_id: _id, ...body } = res.json();
        return body;
      };
      assert.deepEqual(strip(real), strip(ghost), name);
      assert.deepEqual(Object.keys(real.headers).sort(), Object.keys(ghost.headers).sort(), name);
      assert.ok(Math.abs(Number(real.headers['retry-after']) - Number(ghost.headers['retry-after'])) <= 1, name);
    }
  });

  test('the same body whatever the limit: LOGIN_USER_IP, LOGIN_USER and LOGIN_IP refusals look alike', async () => {
    // LOGIN_USER_IP: carol from one address.
    for (let i = 0; i < 3; i++) assertInvalidGrant(await passwordGrant(t, 'carol', WRONG, '198.51.100.31'));
    const byUserIp = await passwordGrant(t, 'carol', WRONG, '198.51.100.31');
    // LOGIN_IP: stuffing from another address.
    for (let i = 0; i < 8; i++) await passwordGrant(t, `stuff-b${i}`, WRONG, '198.51.100.32');
    const byIp = await passwordGrant(t, 'stuff-b-next', WRONG, '198.51.100.32');
    // LOGIN_USER: dave from many.
    for (let i = 0; i < 5; i++) await passwordGrant(t, 'dave', WRONG, `198.51.100.${40 + i}`);
    const byUser = await passwordGrant(t, 'dave', WRONG, '198.51.100.49');
    for (const res of [byUserIp, byIp, byUser]) assertThrottled(res, 'oauth');
    assert.equal(new Set([byUserIp.body, byIp.body, byUser.body]).size, 1);
  });

  test('MALICIOUS: X-Forwarded-For from an untrusted peer does not make a fresh client', async () => {
    for (let i = 0; i < 3; i++) assertInvalidGrant(await passwordGrant(t, 'erin', WRONG, `10.9.9.${i}`, '198.51.100.60'));
    assertThrottled(await passwordGrant(t, 'erin', WRONG, '10.9.9.99', '198.51.100.60'), 'oauth');
  });

  test('MALICIOUS: a burst sent at once hashes no more than the budget', async () => {
    await t.register('burst');
    const hashes = countHashing(t);
    const responses = await Promise.all(Array.from({ length: 30 }, () => passwordGrant(t, 'burst', WRONG, '198.51.100.70')));
    const statuses = responses.map((r) => r.statusCode);
    assert.equal(statuses.filter((s) => s === 400).length, 3, statuses.join(','));
    assert.equal(statuses.filter((s) => s === 429).length, 27, statuses.join(','));
    assert.equal(hashes(), 3);
  });
});

/** An app whose in-process throttle stores hold `capacity` entries each, with one user; Redis closed in the real pass. */
async function startSmallStoreApp(capacity: number, username: string): Promise<TestApp> {
  const t = await startTestApp({ env: PROXIED, overrides: { throttleCapacity: capacity } });
  await t.register(username);
  await warmUp(t);
  if (testStoreProfile === 'real') await t.services.ephemeral.close();
  return t;
}

/**
 * Issue 19 item 1: a flood of new keys switched login throttling off. The counters of every limit
 * were in one in-process store of at most 100 000 entries that refused new keys when full; failed
 * logins then fell over to the insurance store while the pre-login check read the full one, found
 * nothing, and let every guess through. Here the capacity is small enough to fill over HTTP. With
 * Redis (the real pass) the in-process stores are the insurance: Redis is closed first, so the same
 * flood meets them.
 */
describe(`MALICIOUS: login throttling when the in-process store fills${testStoreProfile === 'real' ? ' (Redis down: the insurance stores)' : ''}`, () => {
  const CAPACITY = 30;
  let t: TestApp;
  before(async () => {
    t = await startSmallStoreApp(CAPACITY, 'alice');
  });
  after(() => t.close());

  const badRegister = (ip: string) => t.inject({ method: 'POST', url: '/auth/register', headers: from(ip), payload: { username: 'x' } });

  test('filled from many addresses at /auth/register, wrong passwords are still refused after 10 and the right one with them', async () => {
    for (let i = 0; i < CAPACITY * 4; i++) assert.equal((await badRegister(`10.19.${i >> 8}.${i & 255}`)).statusCode, 400, `flood request ${i}`);
    for (let i = 0; i < 10; i++) assertInvalidGrant(await passwordGrant(t, 'alice', WRONG, '203.0.113.19'));
    const hashes = countHashing(t);
    for (let i = 0; i < 5; i++) assertThrottled(await passwordGrant(t, 'alice', WRONG, '203.0.113.19'), 'oauth');
    assertThrottled(await passwordGrant(t, 'alice', TEST_PASSWORD, '203.0.113.19'), 'oauth');
    assertThrottled(await jsonLogin(t, 'alice', TEST_PASSWORD, '203.0.113.19'), 'problem');
    assert.equal(hashes(), 0, 'a refused guess is not evaluated');
    // The flood did not refuse anyone either: a new address is still served.
    assert.equal((await badRegister('10.19.250.1')).statusCode, 400);
    assert.equal((await passwordGrant(t, 'alice', TEST_PASSWORD, '203.0.113.20')).statusCode, 200);
  });

  test('filled with failed logins for new usernames, the victim’s counter stays and a login that cannot be counted is refused, not admitted', async () => {
    for (let i = 0; i < 10; i++) assertInvalidGrant(await passwordGrant(t, 'alice', WRONG, '203.0.113.21'));
    const statuses = new Set<number>();
    for (let i = 0; i < CAPACITY * 2; i++) statuses.add((await passwordGrant(t, `nobody${i}`, WRONG, `10.20.${i >> 8}.${i & 255}`)).statusCode);
    assert.deepEqual(
      [...statuses].sort((a, b) => a - b),
      [400, 429],
      'the flood fills the store, then is refused',
    );
    const hashes = countHashing(t);
    assertThrottled(await passwordGrant(t, 'alice', WRONG, '203.0.113.21'), 'oauth');
    assertThrottled(await passwordGrant(t, 'alice', TEST_PASSWORD, '203.0.113.21'), 'oauth');
    assertThrottled(await passwordGrant(t, 'alice', TEST_PASSWORD, '203.0.113.22'), 'oauth');
    assertThrottled(await jsonLogin(t, 'someone-new', WRONG, '203.0.113.23'), 'problem');
    assert.equal(hashes(), 0, 'nothing uncountable is evaluated');
  });
});

describe(`MALICIOUS: successful logins do not fill the in-process login store${testStoreProfile === 'real' ? ' (Redis down: the insurance stores)' : ''}`, () => {
  const CAPACITY = 20;
  let t: TestApp;
  before(async () => {
    t = await startSmallStoreApp(CAPACITY, 'bob');
  });
  after(() => t.close());

  test('logins that succeed from more addresses than the store holds leave no counters behind: a new address is still served', async () => {
    for (let i = 0; i < CAPACITY * 2; i++)
      assert.equal((await passwordGrant(t, 'bob', TEST_PASSWORD, `2001:db8:${i.toString(16)}::1`)).statusCode, 200, `login ${i}`);
    assert.equal((await passwordGrant(t, 'bob', TEST_PASSWORD, '203.0.113.40')).statusCode, 200);
    // Failures still count: the counters that hold them are kept.
    for (let i = 0; i < 10; i++) assertInvalidGrant(await passwordGrant(t, 'bob', WRONG, '203.0.113.41'));
    assertThrottled(await passwordGrant(t, 'bob', TEST_PASSWORD, '203.0.113.41'), 'oauth');
  });
});

describe('login throttling over HTTP: outcomes', () => {
  let t: TestApp;
  before(async () => {
    t = await startTestApp({ env: { ...PROXIED, GATEHOUSE_LIMIT_LOGIN_USER_IP: '3/15m' } });
    await t.register('frank');
    await t.register('grace');
  });
  after(() => t.close());

  test('a successful login resets the username + address counter', async () => {
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < 2; i++) assertInvalidGrant(await passwordGrant(t, 'frank', WRONG, '198.51.100.80'));
      assert.equal((await passwordGrant(t, 'frank', TEST_PASSWORD, '198.51.100.80')).statusCode, 200, `round ${round}`);
    }
  });

  test('/auth/login and /auth/token share the counters; Retry-After is the rest of the 15-minute block', async () => {
    assert.equal((await jsonLogin(t, 'grace', WRONG, '198.51.100.81')).statusCode, 401);
    assert.equal((await jsonLogin(t, 'grace', WRONG, '198.51.100.81')).statusCode, 401);
    assertInvalidGrant(await passwordGrant(t, 'grace', WRONG, '198.51.100.81'));
    const wait = assertThrottled(await jsonLogin(t, 'grace', TEST_PASSWORD, '198.51.100.81'), 'problem');
    assert.ok(wait > 890 && wait <= 900, String(wait));
    assertThrottled(await passwordGrant(t, 'grace', TEST_PASSWORD, '198.51.100.81'), 'oauth');
  });

  test('only refused credentials count: a malformed request or another grant is not a login failure', async () => {
    for (let i = 0; i < 5; i++) {
      const missing = await t.inject({
        method: 'POST',
        url: '/auth/token',
        headers: { ...FORM, ...from('198.51.100.82') },
        payload: 'grant_type=password&username=grace',
      });
      assert.equal(missing.statusCode, 400);
      assert.equal(missing.json().error, 'invalid_request');
      const refresh = await t.inject({
        method: 'POST',
        url: '/auth/token',
        headers: { ...FORM, ...from('198.51.100.82') },
        payload: 'grant_type=refresh_token&refresh_token=nope',
      });
      assertInvalidGrant(refresh);
    }
    assert.equal((await passwordGrant(t, 'grace', TEST_PASSWORD, '198.51.100.82')).statusCode, 200);
  });
});

describe('request limits over HTTP', () => {
  let t: TestApp;
  before(async () => {
    t = await startTestApp({
      env: {
        ...PROXIED,
        GATEHOUSE_LIMIT_GLOBAL_IP: '20/1m',
        GATEHOUSE_LIMIT_REGISTER_IP: '2/1h',
        GATEHOUSE_LIMIT_REFRESH_SESSION: '2/1m',
        GATEHOUSE_LIMIT_PASSWORD_CHANGE_USER: '2/15m',
        GATEHOUSE_LIMIT_REVOKE_IP: '2/1m',
      },
    });
  });
  after(() => t.close());

  const register = (username: string, ip: string) =>
    t.inject({ method: 'POST', url: '/auth/register', headers: from(ip), payload: { username, password: TEST_PASSWORD } });

  test('MALICIOUS: GLOBAL_IP is a ceiling on every route, unknown ones too, in the route’s own error style', async () => {
    const ip = '198.51.100.90';
    for (let i = 0; i < 10; i++) assert.equal((await t.inject({ method: 'GET', url: '/healthz', headers: from(ip) })).statusCode, 200);
    for (let i = 0; i < 10; i++) assert.equal((await t.inject({ method: 'GET', url: `/no/such/route/${i}`, headers: from(ip) })).statusCode, 404);
    assertThrottled(await t.inject({ method: 'GET', url: '/healthz', headers: from(ip) }), 'problem');
    assertThrottled(await t.inject({ method: 'GET', url: '/no/such/route', headers: from(ip) }), 'problem');
    assertThrottled(await t.inject({ method: 'GET', url: '/.well-known/jwks.json', headers: from(ip) }), 'problem');
    const hashes = countHashing(t);
    assertThrottled(await passwordGrant(t, 'anyone', WRONG, ip), 'oauth');
    assert.equal(hashes(), 0);
    assert.equal((await t.inject({ method: 'GET', url: '/healthz', headers: from('198.51.100.91') })).statusCode, 200);
  });

  test('MALICIOUS: REGISTER_IP refuses before the password is hashed', async () => {
    const hashes = countHashing(t);
    assert.equal((await register('reg-one', '198.51.100.100')).statusCode, 201);
    assert.equal((await register('reg-two', '198.51.100.100')).statusCode, 201);
    const before = hashes();
    assertThrottled(await register('reg-three', '198.51.100.100'), 'problem');
    assert.equal(hashes(), before);
    assert.equal((await register('reg-three', '198.51.100.101')).statusCode, 201);
  });

  test('MALICIOUS: REFRESH_SESSION stops a session rotating in a loop, whichever token it presents; other sessions go on', async () => {
    assert.equal((await register('rotator', '198.51.100.110')).statusCode, 201);
    const first = (await passwordGrant(t, 'rotator', TEST_PASSWORD, '198.51.100.110')).json();
    const other = (await passwordGrant(t, 'rotator', TEST_PASSWORD, '198.51.100.110')).json();
    let token: string = first.refresh_token;
    for (let i = 0; i < 2; i++) {
      const res = await t.inject({ method: 'POST', url: '/auth/refresh', headers: from('198.51.100.110'), payload: { refresh_token: token } });
      assert.equal(res.statusCode, 200, res.body);
      token = res.json().refresh_token;
    }
    assertThrottled(await t.inject({ method: 'POST', url: '/auth/refresh', headers: from('198.51.100.111'), payload: { refresh_token: token } }), 'oauth');
    assertThrottled(
      await t.inject({
        method: 'POST',
        url: '/auth/token',
        headers: { ...FORM, ...from('198.51.100.112') },
        payload: `grant_type=refresh_token&refresh_token=${token}`,
      }),
      'oauth',
    );
    const res = await t.inject({ method: 'POST', url: '/auth/refresh', headers: from('198.51.100.110'), payload: { refresh_token: other.refresh_token } });
    assert.equal(res.statusCode, 200, res.body);
  });

  test('MALICIOUS: PASSWORD_CHANGE_USER refuses guesses at the current password before verifying them', async () => {
    assert.equal((await register('changer', '198.51.100.120')).statusCode, 201);
    const { access_token: access } = (await passwordGrant(t, 'changer', TEST_PASSWORD, '198.51.100.120')).json();
    const change = (current: string, ip: string) =>
      t.inject({
        method: 'POST',
        url: '/me/password',
        headers: { ...bearer(access), ...from(ip) },
        payload: { current_password: current, new_password: 'a brand new passphrase here' },
      });
    const hashes = countHashing(t);
    assert.equal((await change('guess one is wrong', '198.51.100.121')).statusCode, 403);
    assert.equal((await change('guess two is wrong', '198.51.100.122')).statusCode, 403);
    const before = hashes();
    assertThrottled(await change(TEST_PASSWORD, '198.51.100.123'), 'problem');
    assert.equal(hashes(), before, 'the right password is not even looked at');
  });

  test('REVOKE_IP', async () => {
    const revoke = (ip: string) => t.inject({ method: 'POST', url: '/auth/revoke', headers: { ...FORM, ...from(ip) }, payload: 'token=nothing-at-all' });
    assert.equal((await revoke('198.51.100.130')).statusCode, 200);
    assert.equal((await revoke('198.51.100.130')).statusCode, 200);
    assertThrottled(await revoke('198.51.100.130'), 'oauth');
    assert.equal((await revoke('198.51.100.131')).statusCode, 200);
  });
});

describe('limits switched off', () => {
  let t: TestApp;
  before(async () => {
    const off = Object.fromEntries(
      ['LOGIN_USER_IP', 'LOGIN_USER', 'LOGIN_IP', 'REGISTER_IP', 'REFRESH_SESSION', 'PASSWORD_CHANGE_USER', 'REVOKE_IP', 'GLOBAL_IP'].map((n) => [
        `GATEHOUSE_LIMIT_${n}`,
        'off',
      ]),
    );
    t = await startTestApp({ env: off });
    await t.register('unlimited');
  });
  after(() => t.close());

  test('nothing is ever throttled (what the benchmarks run)', async () => {
    for (let i = 0; i < 15; i++) assertInvalidGrant(await passwordGrant(t, 'unlimited', WRONG));
    assert.equal((await passwordGrant(t, 'unlimited', TEST_PASSWORD)).statusCode, 200);
  });
});

describe('defaults', () => {
  let t: TestApp;
  before(async () => {
    t = await startTestApp();
    await t.register('default-user');
  });
  after(() => t.close());

  test('loopback is not exempt: LOGIN_USER_IP 10/15m applies to 127.0.0.1', async () => {
    for (let i = 0; i < 10; i++) assertInvalidGrant(await passwordGrant(t, 'default-user', WRONG));
    assertThrottled(await passwordGrant(t, 'default-user', TEST_PASSWORD), 'oauth');
  });
});

if (testStoreProfile === 'real') {
  describe('two instances share their limits through Redis', () => {
    let a: TestApp;
    let b: TestApp;
    before(async () => {
      const env = { ...PROXIED, GATEHOUSE_LIMIT_LOGIN_USER_IP: '3/15m', GATEHOUSE_LIMIT_GLOBAL_IP: '10/1m' };
      a = await startTestApp({ env });
      b = await startTestApp({ env, shareWith: a });
      await a.register('shared');
    });
    after(async () => {
      await b?.close();
      await a?.close();
    });

    test('failures on A and on B add up; both refuse', async () => {
      assertInvalidGrant(await passwordGrant(a, 'shared', WRONG, '198.51.100.140'));
      assertInvalidGrant(await passwordGrant(b, 'shared', WRONG, '198.51.100.140'));
      assertInvalidGrant(await passwordGrant(a, 'shared', WRONG, '198.51.100.140'));
      assertThrottled(await passwordGrant(b, 'shared', TEST_PASSWORD, '198.51.100.140'), 'oauth');
      assertThrottled(await passwordGrant(a, 'shared', TEST_PASSWORD, '198.51.100.140'), 'oauth');
    });

    test('the global ceiling is one budget across instances', async () => {
      for (let i = 0; i < 10; i++)
        assert.equal((await (i % 2 === 0 ? a : b).inject({ method: 'GET', url: '/healthz', headers: from('198.51.100.141') })).statusCode, 200);
      assertThrottled(await a.inject({ method: 'GET', url: '/healthz', headers: from('198.51.100.141') }), 'problem');
      assertThrottled(await b.inject({ method: 'GET', url: '/healthz', headers: from('198.51.100.141') }), 'problem');
    });

    test('the victim’s known address is known to both instances', async () => {
      await a.register('shared-victim');
      assert.equal((await passwordGrant(a, 'shared-victim', TEST_PASSWORD, '192.0.2.150')).statusCode, 200);
      assert.equal((await passwordGrant(b, 'shared-victim', TEST_PASSWORD, '192.0.2.150')).statusCode, 200);
    });
  });
}
