import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { LightMyRequestResponse } from 'fastify';
import { decodeJwt } from 'jose';
import { bearer, startTestApp, type TestApp } from '../support/test-app.js';

/** GET /revocations: what resource servers read to catch up after a gap in their feed (issue 19, item 5). */

const SECRET = 'feed-secret-one-3Xk9qLm2Vb7Rt5Yw8Zp1';
const ROTATED = 'feed-secret-two-7Hj4nQs6Tc2Wd9Fg1Kx5';

interface FeedPage {
  entries: { kind: string; id: string; until: number; version?: number }[];
  next: string | null;
}

function feed(t: TestApp, headers: Record<string, string> = {}, query = ''): Promise<LightMyRequestResponse> {
  return t.inject({ method: 'GET', url: `/revocations${query}`, headers });
}

function assertProblem(res: LightMyRequestResponse, status: number, code: string): void {
  assert.equal(res.statusCode, status, res.body);
  assert.match(String(res.headers['content-type']), /^application\/problem\+json/);
  const body = res.json<Record<string, unknown>>();
  assert.equal(body.code, code);
  assert.equal(body.status, status);
  assert.equal(typeof body.request_id, 'string');
  assert.ok(!res.body.includes(SECRET) && !res.body.includes('feed-secret'), 'no secret in the answer');
}

/** Every entry, following `next` page by page. */
async function walk(t: TestApp, limit: number): Promise<FeedPage['entries']> {
  const entries: FeedPage['entries'] = [];
  let after: string | null = null;
  for (let pages = 0; pages < 1000; pages++) {
    const query = `?limit=${limit}${after === null ? '' : `&after=${encodeURIComponent(after)}`}`;
    const res = await feed(t, bearer(SECRET), query);
    assert.equal(res.statusCode, 200, res.body);
    const page = res.json<FeedPage>();
    assert.ok(page.entries.length <= limit);
    entries.push(...page.entries);
    if (page.next === null) return entries;
    after = page.next;
  }
  assert.fail('the pages never ended');
}

describe('GET /revocations', () => {
  let t: TestApp;
  before(async () => {
    t = await startTestApp({ env: { GATEHOUSE_REVOCATION_FEED_SECRETS: `${SECRET},${ROTATED}` } });
  });
  after(() => t.close());

  test('refuses a missing or wrong secret, a user token and a secret in the query with the problem shape', async () => {
    await t.register('feed_mallory');
    const token = (await t.login('feed_mallory')).access_token;
    const missing = await feed(t);
    assertProblem(missing, 401, 'ERR_NO_CREDENTIAL');
    assert.equal(missing.headers['www-authenticate'], 'Bearer realm="gatehouse"');
    for (const wrong of [`${SECRET}x`, SECRET.slice(0, -1), SECRET.toUpperCase(), token, 'a']) {
      const res = await feed(t, bearer(wrong));
      assertProblem(res, 401, 'ERR_INVALID_TOKEN');
      assert.equal(res.headers['www-authenticate'], 'Bearer realm="gatehouse", error="invalid_token"');
    }
    assertProblem(await feed(t, { authorization: `Basic ${SECRET}` }), 401, 'ERR_NO_CREDENTIAL');
    assertProblem(await feed(t, {}, `?access_token=${SECRET}`), 400, 'ERR_MALFORMED_CREDENTIAL');
    assert.equal(
      t.logs.lines.some((l) => l.includes(SECRET)),
      false,
      'the secret never reaches the log',
    );
  });

  test('the live state after a logout, a revoked access token and log-out-everywhere; both secrets of the rotation work', async () => {
    const user = await t.register('feed_alice');
    const a = await t.login('feed_alice');
    const b = await t.login('feed_alice');
    assert.equal((await t.inject({ method: 'POST', url: '/auth/logout', headers: bearer(a.access_token) })).statusCode, 204);
    const revoke = await t.inject({
      method: 'POST',
      url: '/auth/revoke',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: `token=${b.access_token}`,
    });
    assert.equal(revoke.statusCode, 200);
    const c = await t.login('feed_alice');
    assert.equal((await t.inject({ method: 'POST', url: '/auth/logout-all', headers: bearer(c.access_token) })).statusCode, 204);

    for (const secret of [SECRET, ROTATED]) {
      const res = await feed(t, bearer(secret));
      assert.equal(res.statusCode, 200, res.body);
      assert.equal(res.headers['cache-control'], 'no-store');
      const { entries, next } = res.json<FeedPage>();
      assert.equal(next, null);
      const has = (kind: string, id: string) => entries.some((e) => e.kind === kind && e.id === id && e.until > Date.now());
      assert.ok(has('session', decodeJwt(a.access_token).sid as string), 'the logged-out session');
      assert.ok(has('token', decodeJwt(b.access_token).jti as string), 'the revoked access token');
      assert.ok(has('session', decodeJwt(c.access_token).sid as string), 'log out everywhere: the sessions');
      assert.ok(
        entries.some((e) => e.kind === 'user' && e.id === user.id && (e.version ?? 0) > 0),
        'log out everywhere: the token version',
      );
    }
  });

  test("malicious: a deleted account's tokens stay revoked in the feed though its row and sessions are gone; paging still sees every entry once", async () => {
    const root = await t.register('feed_root');
    await t.services.userDirectory.changeRole(root.id, { grant: 'admin' });
    const admin = bearer((await t.login('feed_root')).access_token);
    const doomed = await t.register('feed_doomed');
    const token = (await t.login('feed_doomed')).access_token;
    const tver = decodeJwt(token).tver as number;
    assert.equal((await t.inject({ method: 'DELETE', url: `/admin/users/${doomed.id}`, headers: admin })).statusCode, 204);
    const entries = await walk(t, 1000);
    const entry = entries.find((e) => e.kind === 'user' && e.id === doomed.id);
    assert.ok(entry, 'the deleted user is still announced');
    assert.ok((entry.version ?? 0) > tver && entry.until > Date.now(), 'at a version above every token it had');
    for (const limit of [1, 2])
      assert.deepEqual(
        (await walk(t, limit)).map((e) => `${e.kind}:${e.id}`),
        entries.map((e) => `${e.kind}:${e.id}`),
        `limit ${limit}`,
      );
  });

  test('pages: each entry exactly once whatever the page size; a cursor not handed out is 400', async () => {
    for (let i = 0; i < 3; i++) {
      const s = await t.login('feed_alice');
      await t.inject({ method: 'POST', url: '/auth/logout', headers: bearer(s.access_token) });
    }
    const all = await walk(t, 1000);
    assert.ok(all.length >= 8, `${all.length} entries`);
    for (const limit of [1, 2, 3]) {
      const paged = await walk(t, limit);
      assert.deepEqual(
        paged.map((e) => `${e.kind}:${e.id}`),
        all.map((e) => `${e.kind}:${e.id}`),
        `limit ${limit}`,
      );
    }
    for (const after of ['session:not-a-uuid', 'nothing:x', ':x', 'user:', 'token']) {
      assertProblem(await feed(t, bearer(SECRET), `?after=${encodeURIComponent(after)}`), 400, 'ERR_VALIDATION');
    }
    for (const limit of ['0', '1001', 'x']) assertProblem(await feed(t, bearer(SECRET), `?limit=${limit}`), 400, 'ERR_VALIDATION');
    assertProblem(await feed(t, bearer(SECRET), '?since=0'), 400, 'ERR_VALIDATION');
  });
});

describe('GET /revocations without GATEHOUSE_REVOCATION_FEED_SECRETS', () => {
  test('is off: 404 with the problem shape, whatever is presented', async () => {
    const t = await startTestApp();
    try {
      for (const headers of [{}, bearer(SECRET)]) assertProblem(await feed(t, headers), 404, 'ERR_NOT_FOUND');
    } finally {
      await t.close();
    }
  });
});
