import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { loadConfig } from '../../../src/config/config.js';
import { servicesOf } from '../../../src/http/mounted-services.js';
import { generateSigningJwk } from '../../../src/keys/development-keys.js';
import { createTestStores, withTestTemplate, type TestStores } from '../../../test/support/test-stores.js';
import { openSocket, opened, wsBase, type ClientSocket } from '../../../test/support/ws-client.js';
import { buildChatRooms, CHATTER } from '../src/app.js';

const PASSWORD = 'correct horse battery staple';
/** The issuer is https://chat.test/identity: its origin is the chat page's, trusted by default. */
const ORIGIN = 'https://chat.test';

describe('examples/chat-rooms: rooms as resources over WebSockets, tested with the ws client', () => {
  let stores: TestStores;
  let app: FastifyInstance;
  let base: string;
  const ids: Record<string, string> = {};
  const tokens: Record<string, string> = {};
  let room: string;

  const call = (method: 'GET' | 'POST' | 'PUT' | 'DELETE', url: string, token?: string, payload?: object, headers: Record<string, string> = {}) =>
    app.inject({
      method,
      url,
      headers: { ...headers, ...(token === undefined ? {} : { authorization: `Bearer ${token}` }) },
      ...(payload === undefined ? {} : { payload }),
    });
  const ticket = async (username: string): Promise<string> => {
    const res = await call('POST', '/identity/auth/ws-ticket', tokens[username], undefined, { origin: ORIGIN });
    assert.equal(res.statusCode, 200, res.body);
    return res.json<{ ticket: string }>().ticket;
  };
  const join = async (username: string, roomId = room) => openSocket(`${base}/rooms/${roomId}/socket?ticket=${await ticket(username)}`, ORIGIN);
  /** Joins and reads the `joined` frame. */
  const joined = async (username: string): Promise<ClientSocket> => {
    const socket = opened(await join(username));
    assert.equal(JSON.parse(await socket.next()).type, 'joined');
    return socket;
  };
  const say = (socket: ClientSocket, text: string) => socket.ws.send(JSON.stringify({ text }));

  before(async () => {
    stores = await createTestStores();
    const config = withTestTemplate(
      loadConfig({
        GATEHOUSE_ENV: 'development',
        GATEHOUSE_ISSUER: `${ORIGIN}/identity`,
        GATEHOUSE_DATABASE_URL: stores.databaseUrl,
        GATEHOUSE_REDIS_KEY_PREFIX: stores.redisKeyPrefix,
        ...(stores.redisUrl === undefined ? {} : { GATEHOUSE_REDIS_URL: stores.redisUrl }),
      }),
    );
    app = await buildChatRooms({ gatehouse: { config, signingKeys: [await generateSigningJwk()] } });
    base = await wsBase(app);
    // alice (owner) and bob may speak; carol is a member who may only read; mallory is in no room.
    for (const username of ['alice', 'bob', 'carol', 'mallory']) {
      const res = await call('POST', '/identity/auth/register', undefined, { username, password: PASSWORD });
      assert.equal(res.statusCode, 201, res.body);
      ids[username] = res.json<{ id: string }>().id;
      if (username === 'alice' || username === 'bob') await servicesOf(app).userDirectory.changeRole(ids[username]!, { grant: CHATTER });
      const login = await call('POST', '/identity/auth/login', undefined, { username, password: PASSWORD });
      assert.equal(login.statusCode, 200, login.body);
      tokens[username] = login.json<{ access_token: string }>().access_token;
    }
    const created = await call('POST', '/rooms', tokens.alice, { name: 'tea' });
    assert.equal(created.statusCode, 201, created.body);
    room = created.json<{ id: string }>().id;
    for (const member of ['bob', 'carol']) assert.equal((await call('PUT', `/rooms/${room}/members/${ids[member]}`, tokens.alice)).statusCode, 204);
  });
  after(async () => {
    await app?.close();
    await stores?.cleanup();
  });

  test('malicious: joining a room one is not a member of is refused before the upgrade (403)', async () => {
    const upgrade = await join('mallory');
    assert.equal(upgrade.kind === 'refused' && upgrade.status, 403);
  });

  test('malicious: a non-owner cannot add herself to a room', async () => {
    assert.equal((await call('PUT', `/rooms/${room}/members/${ids.mallory}`, tokens.mallory)).statusCode, 403);
    assert.equal((await join('mallory')).kind, 'refused');
  });

  test('malicious: a room socket without a ticket, or from another site, opens nothing', async () => {
    const none = await openSocket(`${base}/rooms/${room}/socket`, ORIGIN);
    assert.equal(none.kind === 'refused' && none.status, 401);
    const crossSite = await openSocket(`${base}/rooms/${room}/socket?ticket=${await ticket('alice')}`, 'https://evil.example');
    assert.equal(crossSite.kind === 'refused' && crossSite.status, 403);
  });

  test('an unknown room is 404 at the upgrade', async () => {
    const upgrade = await join('alice', '00000000-0000-4000-8000-000000000000');
    assert.equal(upgrade.kind === 'refused' && upgrade.status, 404);
  });

  test('members hear each other; a member without chat:send reads but her messages are refused with an error frame', async () => {
    const alice = await joined('alice');
    const bob = await joined('bob');
    const carol = await joined('carol');
    say(alice, 'hello, room');
    for (const socket of [alice, bob, carol]) assert.deepEqual(JSON.parse(await socket.next()), { type: 'message', room, from: 'alice', text: 'hello, room' });
    say(carol, 'may I?');
    assert.deepEqual(JSON.parse(await carol.next()), { type: 'error', code: 'ERR_FORBIDDEN', message: 'message refused' });
    carol.ws.send('not json');
    assert.equal(JSON.parse(await carol.next()).code, 'ERR_VALIDATION');
    say(bob, 'hi alice');
    assert.equal(JSON.parse(await alice.next()).text, 'hi alice');
    assert.ok(!alice.received.some((frame) => frame.includes('may I?')), 'a refused message reaches nobody');
    for (const socket of [alice, bob, carol]) socket.ws.close();
  });

  test('a member removed from the room may say nothing more and hears nothing more', async () => {
    const alice = await joined('alice');
    const bob = await joined('bob');
    assert.equal((await call('DELETE', `/rooms/${room}/members/${ids.bob}`, tokens.alice)).statusCode, 204);
    try {
      say(bob, 'still here?');
      assert.equal(JSON.parse(await bob.next()).code, 'ERR_FORBIDDEN');
      say(alice, 'bob has left');
      assert.equal(JSON.parse(await alice.next()).text, 'bob has left');
      assert.ok(!bob.received.some((frame) => frame.includes('bob has left')));
    } finally {
      await call('PUT', `/rooms/${room}/members/${ids.bob}`, tokens.alice);
      alice.ws.close();
      bob.ws.close();
    }
  });

  test('logging out closes the open room socket with 4401', async () => {
    const login = await call('POST', '/identity/auth/login', undefined, { username: 'carol', password: PASSWORD });
    const token = login.json<{ access_token: string }>().access_token;
    const res = await call('POST', '/identity/auth/ws-ticket', token, undefined, { origin: ORIGIN });
    const socket = opened(await openSocket(`${base}/rooms/${room}/socket?ticket=${res.json<{ ticket: string }>().ticket}`, ORIGIN));
    assert.equal((await call('POST', '/identity/auth/logout', token)).statusCode, 204);
    assert.equal((await socket.closed).code, 4401);
  });
});
