import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { pino } from 'pino';
import { loggerOptions } from '../../src/http/logger.js';
import { bearer, startTestApp, type TestApp } from '../support/test-app.js';

// Distinctive values, so a hit in the log cannot be a coincidence.
const PASSWORD = 'Zq7-unique-logging-secret-Pw';
const WRONG_PASSWORD = 'Xk9-wrong-but-still-secret-Pw';
const QUERY_SECRET = 'QS-SECRET-7f3a9c';

function recordsFor(t: TestApp, requestId: string): Record<string, unknown>[] {
  return t.logs.records().filter((r) => r.request_id === requestId);
}

describe('logs carry no credentials', () => {
  let t: TestApp;
  let accessToken: string;
  const authorizationValues: string[] = [];

  before(async () => {
    t = await startTestApp();
    await t.register('logger-lou', PASSWORD);
    accessToken = (await t.login('logger-lou', PASSWORD)).access_token;
    const me = await t.inject({ method: 'GET', url: '/me', headers: bearer(accessToken) });
    assert.equal(me.statusCode, 200);
    authorizationValues.push(bearer(accessToken).authorization as string);

    // JSON login, a failed form login, a failed JSON login, a malformed body carrying the password.
    assert.equal((await t.inject({ method: 'POST', url: '/auth/login', payload: { username: 'logger-lou', password: PASSWORD } })).statusCode, 200);
    const basic = `Basic ${Buffer.from(`gatehouse-cli:${WRONG_PASSWORD}`).toString('base64')}`;
    authorizationValues.push(basic);
    const failures = [
      t.inject({
        method: 'POST',
        url: '/auth/token',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        payload: new URLSearchParams({ grant_type: 'password', username: 'logger-lou', password: WRONG_PASSWORD }).toString(),
      }),
      t.inject({ method: 'POST', url: '/auth/login', payload: { username: 'logger-lou', password: WRONG_PASSWORD } }),
      t.inject({
        method: 'POST',
        url: '/auth/token',
        headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic },
        payload: 'grant_type=password&username=logger-lou&password=x',
      }),
      t.inject({
        method: 'POST',
        url: '/auth/register',
        headers: { 'content-type': 'application/json' },
        payload: `{"username":"x","password":"${WRONG_PASSWORD}"`,
      }),
      t.inject({ method: 'POST', url: '/auth/register', payload: { username: 'logger-two', password: WRONG_PASSWORD.slice(0, 10) } }),
      t.inject({ method: 'GET', url: '/me', headers: { authorization: `Bearer ${accessToken}x` } }),
    ];
    for (const res of await Promise.all(failures)) assert.ok(res.statusCode >= 400 && res.statusCode < 500, res.body);
  });
  after(() => t.close());

  test('the capture is not empty: every request left an access-log line', () => {
    const completed = t.logs.records().filter((r) => r.msg === 'request completed');
    assert.ok(completed.length >= 9, `only ${completed.length} access-log lines`);
    const meLine = completed.find((r) => (r.req as { url?: string } | undefined)?.url === '/me' && r.status === 200);
    assert.ok(meLine !== undefined, 'no access-log line for GET /me');
  });

  test('no log line contains a password', () => {
    for (const secret of [PASSWORD, WRONG_PASSWORD, WRONG_PASSWORD.slice(0, 10)]) {
      const hit = t.logs.lines.find((l) => l.includes(secret));
      assert.equal(hit, undefined, `password in log: ${hit}`);
    }
  });

  test('no log line contains the access token or any part of it', () => {
    const [header, payload, signature] = accessToken.split('.') as [string, string, string];
    for (const part of [accessToken, payload, signature, `${header}.${payload}`]) {
      const hit = t.logs.lines.find((l) => l.includes(part));
      assert.equal(hit, undefined, `token in log: ${hit}`);
    }
  });

  test('no log line contains an Authorization header value', () => {
    for (const value of authorizationValues) {
      const credential = value.split(' ')[1] as string;
      const hit = t.logs.lines.find((l) => l.includes(credential));
      assert.equal(hit, undefined, `authorization value in log: ${hit}`);
    }
    assert.equal(
      t.logs.lines.find((l) => /bearer |basic /i.test(l)),
      undefined,
    );
  });

  test('a token in the query string is refused and the logged url drops the query', async () => {
    const res = await t.inject({ method: 'GET', url: `/me?access_token=${QUERY_SECRET}&x=1` });
    assert.equal(res.statusCode, 400);
    assert.equal(
      t.logs.lines.find((l) => l.includes(QUERY_SECRET)),
      undefined,
    );
    const lines = recordsFor(t, String(res.headers['x-request-id']));
    const access = lines.find((r) => r.msg === 'request completed');
    assert.equal((access?.req as { url?: string } | undefined)?.url, '/me?[query redacted]');
  });

  test('a failed login logs its reason; the client body does not carry it', async () => {
    const form = (username: string, password: string) =>
      t.inject({
        method: 'POST',
        url: '/auth/token',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        payload: new URLSearchParams({ grant_type: 'password', username, password }).toString(),
      });
    for (const [res, reason] of [
      [await form('no-such-user', PASSWORD), 'unknown user'],
      [await form('logger-lou', WRONG_PASSWORD), 'wrong password'],
    ] as const) {
      assert.equal(res.statusCode, 400);
      assert.equal(res.json().error, 'invalid_grant');
      assert.ok(!res.body.includes(reason), `reason leaked to the client: ${res.body}`);
      const refused = recordsFor(t, String(res.headers['x-request-id'])).find((r) => r.msg === 'request refused');
      assert.equal(refused?.reason, reason);
      assert.equal(refused?.err_code, 'ERR_OAUTH_INVALID_GRANT');
      assert.equal(refused?.status, 400);
    }
  });
});

describe('a database failure', () => {
  let t: TestApp;
  before(async () => {
    t = await startTestApp();
    await t.register('db-victim', PASSWORD);
    await t.services.database.close();
  });
  after(() => t.close());

  // Regression: drizzle's DrizzleQueryError carries the bound parameters (property, message and
  // stack), so a failed INSERT wrote the new user's argon2id hash into the error log.
  test('logs why the query failed but no parameter values: no hash, no username, no email', async () => {
    const res = await t.inject({
      method: 'POST',
      url: '/auth/register',
      payload: { username: 'db-newcomer', email: 'newcomer@example.com', password: PASSWORD },
    });
    assert.equal(res.statusCode, 503, res.body);
    assert.match(String(res.headers['content-type']), /^application\/problem\+json\b/);
    assert.equal(res.json().code, 'ERR_STORE_UNAVAILABLE');
    assert.doesNotMatch(res.body, /insert|users|PGlite|params|\n\s+at /i);

    const failure = recordsFor(t, String(res.headers['x-request-id'])).find((r) => r.level === 50);
    assert.ok(failure !== undefined, 'the failure was not logged');
    // The log says what failed (the driver's message, SQLSTATE when there is one), never the values.
    assert.match(String(failure.reason), /^database query failed/);
    assert.equal((failure.err as Record<string, unknown>).params, undefined);
    for (const secret of ['$argon2', 'db-newcomer', 'newcomer@example.com', PASSWORD]) {
      const hit = t.logs.lines.find((l) => l.includes(secret));
      assert.equal(hit, undefined, `${secret} in log: ${hit?.slice(0, 300)}`);
    }
  });

  test('a login during the outage logs no username or password either', async () => {
    const res = await t.inject({ method: 'POST', url: '/auth/login', payload: { username: 'db-victim', password: PASSWORD } });
    assert.equal(res.statusCode, 503, res.body);
    for (const secret of ['db-victim', PASSWORD])
      assert.equal(
        t.logs.lines.find((l) => l.includes(secret)),
        undefined,
        secret,
      );
  });
});

describe('the logger configuration itself', () => {
  test('a request or reply logged with its headers shows neither the headers nor any credential in them', () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(chunk.toString());
        done();
      },
    });
    const options = loggerOptions({ logLevel: 'info' });
    assert.ok(typeof options === 'object');
    const log = pino(options as pino.LoggerOptions, sink);
    const secrets = ['Bearer SECRET-bearer-1', 'gh_session=SECRET-cookie-2', 'SECRET-key-3', 'gh_session=SECRET-set-4'];
    log.info(
      {
        req: { method: 'GET', url: '/me', headers: { authorization: secrets[0], cookie: secrets[1], 'x-api-key': secrets[2] } },
        res: { statusCode: 200, headers: { 'set-cookie': secrets[3] } },
        headers: { authorization: secrets[0] },
      },
      'logged carelessly',
    );
    assert.equal(lines.length, 1);
    const record = JSON.parse(lines[0] as string) as Record<string, unknown>;
    assert.deepEqual(record.req, { method: 'GET', url: '/me' });
    assert.deepEqual(record.res, { statusCode: 200 });
    log.info({ req: { method: 'POST', url: '/auth/token?code=SECRET-5', id: 'r-1', ip: '192.0.2.7', headers: {} } }, 'with every field');
    assert.deepEqual(JSON.parse(lines[1] as string).req, { method: 'POST', url: '/auth/token?[query redacted]', request_id: 'r-1', ip: '192.0.2.7' });
    lines.pop();
    assert.deepEqual(record.headers, { authorization: '[redacted]' });
    for (const secret of secrets) assert.ok(!lines[0]!.includes(secret.split('=').at(-1)!.replace('Bearer ', '')), secret);
  });
});
