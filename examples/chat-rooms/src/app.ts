import Fastify, { type FastifyInstance } from 'fastify';
import { serializerCompiler, validatorCompiler, type ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import {
  gatehouse,
  gatehouseSocket,
  guardResource,
  principalOf,
  PUBLIC,
  sendGatehouseError,
  type GatehouseOptions,
  type ScopeDefinition,
  type SocketMessage,
} from 'gatehouse';
import { roomMember, roomOwner } from './room-policies.js';
import { RoomDirectory, type Room } from './rooms.js';

/** The global role that may speak; every user may read the rooms they are in. */
export const CHATTER = 'chatter';

/** The permissions this service adds to Gatehouse: reading is everyone's, sending needs the role. */
export const CHAT_SCOPES: Readonly<Record<string, ScopeDefinition>> = {
  'chat:read': { description: 'Join the rooms you are a member of and read them', roles: ['user'] },
  'chat:send': { description: 'Send messages to the rooms you are a member of', roles: [CHATTER] },
};

/** What a client sends on a room's socket. */
const chatMessage = z.object({ text: z.string().min(1).max(500) }).strict();
type ChatMessage = z.infer<typeof chatMessage>;

const parseMessage = (raw: SocketMessage): ChatMessage => {
  if (typeof raw !== 'string') throw new TypeError('text frames only');
  return chatMessage.parse(JSON.parse(raw));
};

const roomParams = z.object({ id: z.uuid() });
const memberParams = z.object({ id: z.uuid(), userId: z.uuid() });
const roomView = (room: Room) => ({ id: room.id, name: room.name, owner_id: room.ownerId, members: [...room.members] });

/**
 * Chat rooms over WebSockets, with Gatehouse mounted under /identity. A room is a resource:
 * opening its socket needs membership (the `room-member` policy, checked before the upgrade);
 * sending needs the `chat:send` scope and membership still (checked for every message, so a
 * member removed a moment ago can read no further and say nothing more). The client gets a ticket
 * from `POST /identity/auth/ws-ticket` and opens `/rooms/<id>/socket?ticket=…`.
 */
export async function buildChatRooms(options: { gatehouse?: Omit<GatehouseOptions, 'scopes'>; rooms?: RoomDirectory } = {}): Promise<FastifyInstance> {
  const rooms = options.rooms ?? new RoomDirectory();
  const app = Fastify({ logger: false }).withTypeProvider<ZodTypeProvider>();
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  app.setErrorHandler((error, request, reply) => sendGatehouseError(request, reply, error));
  await app.register(gatehouse, { prefix: '/identity', ...options.gatehouse, scopes: CHAT_SCOPES });

  const load = async (request: { params: unknown }) => rooms.find((request.params as { id: string }).id);
  const asMember = guardResource(roomMember, load);
  const asOwner = guardResource(roomOwner, load);

  app.get('/health', { config: { auth: PUBLIC } }, async () => ({ status: 'ok' }));

  app.post(
    '/rooms',
    { config: { auth: { scopes: ['chat:read'] } }, schema: { body: z.object({ name: z.string().min(1).max(100) }).strict() } },
    async (request, reply) => reply.code(201).send(roomView(rooms.create(request.body.name, principalOf(request).subject))),
  );

  app.get('/rooms', { config: { auth: { scopes: ['chat:read'] } } }, async (request) => ({
    rooms: rooms.roomsOf(principalOf(request).subject).map(roomView),
  }));

  app.put(
    '/rooms/:id/members/:userId',
    { config: { auth: { scopes: ['chat:read'], resource: asOwner } }, schema: { params: memberParams } },
    async (request, reply) => {
      rooms.addMember(asOwner.of(request).id, request.params.userId);
      return reply.code(204).send();
    },
  );

  app.delete(
    '/rooms/:id/members/:userId',
    { config: { auth: { scopes: ['chat:read'], resource: asOwner } }, schema: { params: memberParams } },
    async (request, reply) => {
      rooms.removeMember(asOwner.of(request).id, request.params.userId);
      return reply.code(204).send();
    },
  );

  const leave = new WeakMap<object, () => void>();
  await gatehouseSocket<ChatMessage>(app, '/rooms/:id/socket', {
    // Joining: a member of the room (loaded and decided before the upgrade completes).
    auth: { scopes: ['chat:read'], resource: asMember },
    schema: { params: roomParams },
    parse: parseMessage,
    // Sending: the scope, and still a member now (a removed member's socket says nothing more).
    authorizeMessage: (principal, _message, connection) => {
      const room = rooms.find((connection.params as { id: string }).id);
      return principal.scopes.has('chat:send') && room !== undefined && roomMember.allows(principal, room) ? 'allow' : 'deny';
    },
    onOpen: (connection, request) => {
      const room = asMember.of(request);
      leave.set(connection, rooms.listen(room.id, { userId: connection.principal.subject, send: (frame) => connection.send(frame) }));
      connection.send(JSON.stringify({ type: 'joined', room: room.id, name: room.name }));
    },
    onMessage: (connection, message) => {
      const { id } = connection.params as { id: string };
      rooms.broadcast(id, JSON.stringify({ type: 'message', room: id, from: connection.principal.user.username, text: message.text }));
    },
    onClose: (connection) => leave.get(connection)?.(),
  });

  return app;
}
