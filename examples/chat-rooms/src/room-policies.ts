import { definePolicy, type Policy } from 'gatehouse';
import type { Room } from './rooms.js';

/** Join a room, or send to it: the caller is one of its members. Asked at the upgrade and for every message. */
export const roomMember: Policy<Room> = definePolicy('room-member', (principal, room) => room.members.has(principal.subject));

/** Add or remove members: the room's owner only. */
export const roomOwner: Policy<Room> = definePolicy('room-owner', (principal, room) => room.ownerId === principal.subject);
