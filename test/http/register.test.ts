import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { eq } from 'drizzle-orm';
import type { LightMyRequestResponse } from 'fastify';
import { users } from '../../src/stores/db/schema.js';
import { bearer, startTestApp, TEST_PASSWORD, type TestApp } from '../support/test-app.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

function registerBody(username: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { username, password: TEST_PASSWORD, ...extra };
}

/** RFC 9457 body with the given status and code; returns the parsed body. */
function assertProblem(res: LightMyRequestResponse, status: number, code: string): Record<string, unknown> & { errors?: { field: string; message: string }[] } {
  assert.equal(res.statusCode, status, res.body);
  assert.match(String(res.headers['content-type']), /^application\/problem\+json\b/);
  const body = res.json();
  assert.equal(body.code, code);
  assert.equal(body.status, status);
  assert.equal(body.type, `urn:gatehouse:error:${code}`);
  return body;
}

/** A 400 ERR_VALIDATION naming `field` first. */
function assertFieldRejected(res: LightMyRequestResponse, field: string, code = 'ERR_VALIDATION'): void {
  const body = assertProblem(res, 400, code);
  assert.equal(body.errors?.[0]?.field, field, res.body);
}

describe('POST /auth/register', () => {
  let t: TestApp;
  const register = (payload: Record<string, unknown>) => t.inject({ method: 'POST', url: '/auth/register', payload });
  const rowsWithKey = async (key: string) => t.services.database.db.select().from(users).where(eq(users.usernameKey, key));

  before(async () => {
    t = await startTestApp();
  });
  after(() => t.close());

  describe('privilege escalation and leaks', () => {
    for (const [name, extra] of [
      ['roles', { roles: ['admin'] }],
      ['id', { id: '00000000-0000-4000-8000-000000000000' }],
      ['disabled_at', { disabled_at: null }],
      ['password_hash', { password_hash: '$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA' }],
    ] as const) {
      test(`a body with "${name}" is refused (strict schema) and creates no user`, async () => {
        const username = `esc-${name.replace('_', '')}`;
        const res = await register(registerBody(username, extra));
        const body = assertProblem(res, 400, 'ERR_VALIDATION');
        assert.match(JSON.stringify(body.errors), new RegExp(name));
        assert.equal((await rowsWithKey(username)).length, 0);
      });
    }

    test('a normal registration holds no roles: /me shows roles []', async () => {
      const user = await t.register('plainuser');
      const { access_token } = await t.login('plainuser');
      const me = await t.inject({ method: 'GET', url: '/me', headers: bearer(access_token) });
      assert.equal(me.statusCode, 200);
      assert.deepEqual(me.json().roles, []);
      assert.equal(me.json().id, user.id);
      const [row] = await rowsWithKey('plainuser');
      assert.deepEqual(row?.roles, []);
    });

    test('the 201 body is exactly {id, username, email, email_verified, created_at}: no password or hash', async () => {
      const res = await register(registerBody('shapeuser', { email: 'shape@example.com' }));
      assert.equal(res.statusCode, 201);
      assert.match(String(res.headers['content-type']), /^application\/json\b/);
      const body = res.json();
      assert.deepEqual(Object.keys(body).sort(), ['created_at', 'email', 'email_verified', 'id', 'username']);
      assert.match(body.id, UUID);
      assert.equal(body.username, 'shapeuser');
      assert.equal(body.email, 'shape@example.com');
      assert.equal(new Date(body.created_at).toISOString(), body.created_at);
      assert.ok(!res.body.includes(TEST_PASSWORD));
      assert.ok(!/argon2|password|hash/i.test(res.body), res.body);
    });
  });

  describe('usernames: 3-64 characters after NFKC, letters, digits, ".", "_", "-"', () => {
    for (const bad of ['bad name', 'a/b', '<script>', '../etc', 'alice\u0000', 'ali\u200bce', 'ali\u202ece', 'a@b.c', "o'neil", '']) {
      test(`${JSON.stringify(bad)} is refused with field "username"`, async () => {
        assertFieldRejected(await register(registerBody(bad)), 'username');
      });
    }

    test('"ab" (2 characters) is refused; "abc" (3) is accepted', async () => {
      assertFieldRejected(await register(registerBody('ab')), 'username');
      assert.equal((await register(registerBody('abc'))).statusCode, 201);
    });

    test('65 characters are refused; 64 are accepted', async () => {
      assertFieldRejected(await register(registerBody('u'.repeat(65))), 'username');
      assert.equal((await register(registerBody('u'.repeat(64)))).statusCode, 201);
    });

    test('length is counted after NFKC: 33 "ﬀ" ligatures become 66 characters and are refused', async () => {
      assertFieldRejected(await register(registerBody('\uFB00'.repeat(33))), 'username');
      const res = await register(registerBody('\uFB00'.repeat(32)));
      assert.equal(res.statusCode, 201);
      assert.equal(res.json().username, 'f'.repeat(64));
    });

    test('full-width "ａｌｉｃｅ" is stored as "alice" (NFKC)', async () => {
      const res = await register(registerBody('ａｌｉｃｅ'));
      assert.equal(res.statusCode, 201, res.body);
      assert.equal(res.json().username, 'alice');
      const [row] = await rowsWithKey('alice');
      assert.equal(row?.username, 'alice');
    });

    test('names differing only in case or width are one account: 409 ERR_USERNAME_TAKEN', async () => {
      assert.equal((await register(registerBody('Dupe'))).statusCode, 201);
      for (const again of ['dupe', 'DUPE', 'ｄｕｐｅ', 'ＤＵＰＥ']) {
        const body = assertProblem(await register(registerBody(again)), 409, 'ERR_USERNAME_TAKEN');
        assert.equal(body.errors, undefined);
      }
      assert.equal((await rowsWithKey('dupe')).length, 1);
    });

    test('10 concurrent registrations of one new name: exactly one 201, nine 409, one row', async () => {
      const results = await Promise.all(Array.from({ length: 10 }, () => register(registerBody('racer'))));
      const statuses = results.map((r) => r.statusCode).sort((a, b) => a - b);
      assert.deepEqual(statuses, [201, ...Array<number>(9).fill(409)]);
      for (const r of results.filter((x) => x.statusCode === 409)) assertProblem(r, 409, 'ERR_USERNAME_TAKEN');
      assert.equal((await rowsWithKey('racer')).length, 1);
    });
  });

  describe('look-alike usernames (UTS #39, issue 19 item 9)', () => {
    for (const bad of ['alice\u1160', 'alice\u3164', 'alice\uffa0', 'b\u0966b', '\u0639\u0644\u064a\u0663\u06f3']) {
      test(`${JSON.stringify(bad)} is refused with field "username" and creates no user`, async () => {
        assertFieldRejected(await register(registerBody(bad)), 'username');
        assert.equal((await rowsWithKey(bad.normalize('NFKC').toLowerCase())).length, 0);
      });
    }

    /** The answer with its per-request id taken out: what a client could compare. */
    const answer = (res: LightMyRequestResponse) => ({ status: res.statusCode, body: { ...res.json(), request_id: undefined } });

    for (const [taken, lookalike] of [
      ['lookadmin', 'lookadm\u0131n'], // dotless i
      ['ace', '\u0430\u0441\u0435'], // all Cyrillic
      ['ADMIN', '\ua4ee\ua4d3\ua4df\ua4f2\ua4e0'], // Lisu
      ['modern', 'rnodern'],
    ] as const) {
      test(`${JSON.stringify(lookalike)} while ${JSON.stringify(taken)} exists: the same 409 as the taken name; ${taken} still logs in`, async () => {
        const owner = await t.register(taken);
        const again = await register(registerBody(taken));
        assertProblem(again, 409, 'ERR_USERNAME_TAKEN');
        const res = await register(registerBody(lookalike));
        assert.deepEqual(answer(res), answer(again));
        // Only the log tells the two apart.
        const reasonOf = (r: LightMyRequestResponse) =>
          t.logs.records().find((l) => l.request_id === r.json().request_id && l.err_code === 'ERR_USERNAME_TAKEN')?.reason;
        assert.equal(reasonOf(again), 'username exists');
        assert.equal(reasonOf(res), 'looks like an existing username');
        assert.equal((await rowsWithKey(lookalike.toLowerCase())).length, 0);
        const me = await t.inject({ method: 'GET', url: '/me', headers: bearer((await t.login(taken)).access_token) });
        assert.equal(me.json().id, owner.id);
        // The look-alike is no way into the account: login stays by the exact (case-folded) name.
        const login = await t.inject({ method: 'POST', url: '/auth/login', payload: { username: lookalike, password: TEST_PASSWORD } });
        assert.equal(login.statusCode, 401);
      });
    }
  });

  describe('email', () => {
    const badEmails = ['nope', 'a@', '@example.com', 'a b@example.com', '<script>@example.com', `${'x'.repeat(250)}@example.com`];
    for (const [i, bad] of badEmails.entries()) {
      test(`${JSON.stringify(bad.slice(0, 40))} is refused with field "email"`, async () => {
        const username = `badmail${i}`;
        assertFieldRejected(await register(registerBody(username, { email: bad })), 'email');
        assert.equal((await rowsWithKey(username)).length, 0);
      });
    }

    test('the domain is lower-cased, the local part kept as typed', async () => {
      const res = await register(registerBody('mailcase', { email: 'Bob.Smith@Example.COM' }));
      assert.equal(res.statusCode, 201, res.body);
      assert.equal(res.json().email, 'Bob.Smith@example.com');
      const [row] = await rowsWithKey('mailcase');
      assert.equal(row?.email, 'Bob.Smith@example.com');
    });

    test('email is optional (null)', async () => {
      const res = await register(registerBody('nomail'));
      assert.equal(res.statusCode, 201);
      assert.equal(res.json().email, null);
    });
  });

  describe('password policy', () => {
    const refused = async (username: string, password: string) => {
      const res = await register({ username, password });
      assertFieldRejected(res, 'password', 'ERR_PASSWORD_POLICY');
      assert.ok(!res.body.includes(password), 'the password is echoed back');
      assert.equal((await rowsWithKey(username)).length, 0);
    };

    test('14 characters are refused, 15 accepted (default minimum)', async () => {
      await refused('pw14', 'kq3!vx9#mz2@wp');
      assert.equal((await register({ username: 'pw15', password: 'kq3!vx9#mz2@wpt' })).statusCode, 201);
    });

    test('a common password is refused, in any case', async () => {
      await refused('pwcommon', 'qazwsxedcrfvtgb');
      await refused('pwcommon', 'QAZWSXEDCRFVTGB');
    });

    test('a password containing the username is refused', async () => {
      await refused('zebrafish', 'my zebrafish swims daily');
      await refused('zebrafish', 'my ZEBRAFISH swims daily');
    });

    test('patterns are refused too (issue 19 item 11), one code, the rule in the log: spaces, zero-width spaces, "a" × 20, "password1234567", the email\'s local part', async () => {
      for (const [i, [password, reason, email]] of (
        [
          [' '.repeat(15), 'invisible'],
          ['\u200b'.repeat(15), 'invisible'],
          ['a'.repeat(20), 'repetitive'],
          ['password1234567', 'common'],
          ['!!!!password!!!!', 'common'],
          ['qwertyuiopasdfg', 'sequential'],
          ['gatehouse2024!!!', 'context'],
          ['jane.doe#janedoe1', 'context', 'jane.doe@example.com'],
        ] as const
      ).entries()) {
        const username = `pwpattern${i}`;
        const res = await register({ username, password, ...(email === undefined ? {} : { email }) });
        assertFieldRejected(res, 'password', 'ERR_PASSWORD_POLICY');
        assert.equal((await rowsWithKey(username)).length, 0);
        const logged = t.logs.records().find((r) => r.request_id === res.json().request_id && r.err_code === 'ERR_PASSWORD_POLICY');
        assert.equal(logged?.reason, reason, JSON.stringify(password));
      }
      assert.equal((await register({ username: 'pwpassphrase', password: 'correct horse battery staple' })).statusCode, 201);
    });

    test('64 characters are accepted', async () => {
      const password = 'kq3!vx9#mz2@wpt '.repeat(4);
      assert.equal(password.length, 64);
      const res = await register({ username: 'pw64', password });
      assert.equal(res.statusCode, 201, res.body);
    });

    test('more than 1 KiB is refused, counted in UTF-8 bytes', async () => {
      await refused('pwlong', 'x'.repeat(1025));
      // 513 characters, 1026 bytes.
      await refused('pwlongutf', 'é'.repeat(513));
    });

    test('a password beyond the schema bound (4 KiB) is refused before hashing', async () => {
      assertFieldRejected(await register({ username: 'pwhuge', password: 'y'.repeat(5000) }), 'password');
    });

    test('a missing or non-string password is a validation error on "password"', async () => {
      assertFieldRejected(await register({ username: 'pwmissing' }), 'password');
      assertFieldRejected(await register({ username: 'pwmissing', password: 12345678901234568 }), 'password');
    });
  });
});
