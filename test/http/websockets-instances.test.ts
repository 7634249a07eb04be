import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { gatehouseSocket } from '../../src/http/gatehouse-socket.js';
import { bearer, startTestApp, type TestApp } from '../support/test-app.js';
import { testStoreProfile } from '../support/test-stores.js';
import { openSocket, opened, wsBase, type ClientSocket } from '../support/ws-client.js';

/**
 * WebSocket tickets across two instances of one deployment (shared PostgreSQL and Redis). Real
 * pass only: in the embedded pass each instance has its own database and memory store.
 */

const APP_ORIGIN = 'https://app.gatehouse.test';
/** The requirement: revocation on any instance closes the sockets on every instance within this. */
const CLOSE_LIMIT_MS = 1_000;

const echo = (app: FastifyInstance) => gatehouseSocket(app, '/ws/echo', { onMessage: (connection, message) => connection.send(message) });

async function closeWithin(socket: ClientSocket, since: number): Promise<{ code: number; ms: number }> {
  const timeout = new Promise<never>((_, reject) => setTimeout(() => reject(new Error('socket still open after 5 s')), 5_000).unref());
  const { code } = await Promise.race([socket.closed, timeout]);
  return { code, ms: performance.now() - since };
}

if (testStoreProfile === 'real') {
  describe('WebSocket tickets on two instances sharing PostgreSQL and Redis', () => {
    let a: TestApp;
    let b: TestApp;
    let bases: { a: string; b: string };
    let users = 0;

    const ticketOn = async (t: TestApp, token: string): Promise<string> => {
      const res = await t.inject({ method: 'POST', url: '/auth/ws-ticket', headers: { ...bearer(token), origin: APP_ORIGIN } });
      assert.equal(res.statusCode, 200, res.body);
      return res.json<{ ticket: string }>().ticket;
    };
    const newUser = async (): Promise<{ username: string; token: string }> => {
      const username = `ws-pair-${++users}`;
      await a.register(username);
      return { username, token: (await a.login(username)).access_token };
    };

    before(async () => {
      const env = { GATEHOUSE_ALLOWED_ORIGINS: APP_ORIGIN };
      a = await startTestApp({ env, extraRoutes: echo });
      b = await startTestApp({ env, extraRoutes: echo, shareWith: a });
      bases = { a: await wsBase(a.app), b: await wsBase(b.app) };
    });
    after(async () => {
      await b.close();
      await a.close();
    });

    test('MALICIOUS: one ticket redeemed on both instances at once opens exactly one socket (20 rounds)', async () => {
      const { token } = await newUser();
      for (let round = 0; round < 20; round++) {
        const ticket = await ticketOn(round % 2 === 0 ? a : b, token);
        const upgrades = await Promise.all([
          openSocket(`${bases.a}/ws/echo?ticket=${ticket}`, APP_ORIGIN),
          openSocket(`${bases.b}/ws/echo?ticket=${ticket}`, APP_ORIGIN),
          openSocket(`${bases.a}/ws/echo?ticket=${ticket}`, APP_ORIGIN),
          openSocket(`${bases.b}/ws/echo?ticket=${ticket}`, APP_ORIGIN),
        ]);
        const open = upgrades.filter((u) => u.kind === 'open');
        assert.equal(open.length, 1, `round ${round}: ${open.length} sockets`);
        for (const u of upgrades) if (u.kind === 'refused') assert.equal(u.status, 401);
        for (const u of open) u.socket.ws.close();
      }
    });

    test('a ticket issued on A opens a socket on B', async () => {
      const { token } = await newUser();
      const socket = opened(await openSocket(`${bases.b}/ws/echo?ticket=${await ticketOn(a, token)}`, APP_ORIGIN));
      socket.ws.send('hi');
      assert.equal(await socket.next(), 'hi');
      socket.ws.close();
    });

    test('logout everywhere on A closes the sockets on A and on B within 1 s (4401)', async (ctx) => {
      const { token } = await newUser();
      const onA = opened(await openSocket(`${bases.a}/ws/echo?ticket=${await ticketOn(a, token)}`, APP_ORIGIN));
      const onB = opened(await openSocket(`${bases.b}/ws/echo?ticket=${await ticketOn(b, token)}`, APP_ORIGIN));
      const start = performance.now();
      assert.equal((await a.inject({ method: 'POST', url: '/auth/logout-all', headers: bearer(token) })).statusCode, 204);
      for (const [name, socket] of [
        ['A', onA],
        ['B', onB],
      ] as const) {
        const closed = await closeWithin(socket, start);
        ctx.diagnostic(`socket on ${name} closed ${closed.ms.toFixed(1)} ms after the request to A`);
        assert.equal(closed.code, 4401);
        assert.ok(closed.ms < CLOSE_LIMIT_MS, `${name}: ${closed.ms} ms`);
      }
    });

    test("a logout on B closes that session's socket on A within 1 s, and only that one", async (ctx) => {
      const { username, token } = await newUser();
      const other = (await a.login(username)).access_token;
      const doomed = opened(await openSocket(`${bases.a}/ws/echo?ticket=${await ticketOn(a, token)}`, APP_ORIGIN));
      const kept = opened(await openSocket(`${bases.a}/ws/echo?ticket=${await ticketOn(a, other)}`, APP_ORIGIN));
      const start = performance.now();
      assert.equal((await b.inject({ method: 'POST', url: '/auth/logout', headers: bearer(token) })).statusCode, 204);
      const closed = await closeWithin(doomed, start);
      ctx.diagnostic(`closed on A ${closed.ms.toFixed(1)} ms after the logout on B`);
      assert.equal(closed.code, 4401);
      assert.ok(closed.ms < CLOSE_LIMIT_MS, `${closed.ms} ms`);
      kept.ws.send('still here');
      assert.equal(await kept.next(), 'still here');
      kept.ws.close();
    });
  });
}
