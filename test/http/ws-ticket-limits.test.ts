import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { bearer, startTestApp, TEST_ISSUER, type TestApp } from '../support/test-app.js';

/** POST /auth/ws-ticket: its own request limit (GATEHOUSE_LIMIT_WS_TICKET, per user) and its audit row. */
describe('WebSocket tickets: the GATEHOUSE_LIMIT_WS_TICKET limit and the ws_ticket.issued audit row', () => {
  let t: TestApp;
  let alice: { id: string };
  let aliceToken: string;
  let bobToken: string;

  before(async () => {
    t = await startTestApp({ env: { GATEHOUSE_LIMIT_WS_TICKET: '2/1m' } });
    alice = await t.register('ticket-alice');
    await t.register('ticket-bob');
    aliceToken = (await t.login('ticket-alice')).access_token;
    bobToken = (await t.login('ticket-bob')).access_token;
  });
  after(async () => t.close());

  const ask = (token: string) => t.inject({ method: 'POST', url: '/auth/ws-ticket', headers: { ...bearer(token), origin: TEST_ISSUER } });

  test('malicious: past its budget a user is answered 429 with Retry-After (no ticket); another user is not', async () => {
    const tickets: string[] = [];
    for (let i = 0; i < 2; i++) {
      const res = await ask(aliceToken);
      assert.equal(res.statusCode, 200, res.body);
      tickets.push(res.json<{ ticket: string }>().ticket);
    }
    const refused = await ask(aliceToken);
    assert.equal(refused.statusCode, 429, refused.body);
    assert.ok(Number(refused.headers['retry-after']) > 0);
    assert.doesNotMatch(refused.body, /ghw_/);
    assert.equal((await ask(bobToken)).statusCode, 200, "bob's budget is his own");

    // Each ticket issued is one audit row of its user and session; no row, and no log line, holds a ticket.
    const rows = await t.services.audit.list({ subjectId: alice.id, event: 'ws_ticket.issued', limit: 10 });
    assert.equal(rows.length, 2);
    assert.ok(rows.every((r) => r.actorId === alice.id && r.sessionId !== null));
    const everything = JSON.stringify(await t.services.audit.list({ limit: 200 }));
    for (const ticket of tickets) {
      assert.ok(!everything.includes(ticket), 'the audit trail never holds a ticket');
      assert.ok(!t.logs.lines.some((line) => line.includes(ticket)), 'nor does any log line');
    }
  });

  test('an anonymous caller is 401 and counts against no one', async () => {
    const res = await t.inject({ method: 'POST', url: '/auth/ws-ticket', headers: { origin: TEST_ISSUER } });
    assert.equal(res.statusCode, 401);
  });
});
