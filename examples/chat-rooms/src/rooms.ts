import { randomUUID } from 'node:crypto';

/** A chat room: the resource a socket joins. Only its members may join it. */
export interface Room {
  readonly id: string;
  readonly name: string;
  readonly ownerId: string;
  readonly members: ReadonlySet<string>;
}

/** Who is in a room right now, and how to reach them: the app's side of each open socket. */
export interface RoomListener {
  readonly userId: string;
  send(frame: string): void;
}

/** The rooms, in memory: an example's store. Membership and the open sockets of each room. */
export class RoomDirectory {
  readonly #rooms = new Map<string, { room: Room; members: Set<string> }>();
  readonly #listeners = new Map<string, Set<RoomListener>>();

  create(name: string, ownerId: string): Room {
    const members = new Set([ownerId]);
    const room: Room = { id: randomUUID(), name, ownerId, members };
    this.#rooms.set(room.id, { room, members });
    return room;
  }

  find(id: string): Room | undefined {
    return this.#rooms.get(id)?.room;
  }

  addMember(id: string, userId: string): void {
    this.#rooms.get(id)?.members.add(userId);
  }

  removeMember(id: string, userId: string): void {
    this.#rooms.get(id)?.members.delete(userId);
  }

  /** The rooms `userId` belongs to. */
  roomsOf(userId: string): Room[] {
    return [...this.#rooms.values()].map((r) => r.room).filter((room) => room.members.has(userId));
  }

  listen(roomId: string, listener: RoomListener): () => void {
    const set = this.#listeners.get(roomId) ?? new Set();
    this.#listeners.set(roomId, set);
    set.add(listener);
    return () => void set.delete(listener);
  }

  /** Sends `frame` to every open socket in the room whose user is still a member. */
  broadcast(roomId: string, frame: string): void {
    const room = this.find(roomId);
    for (const listener of this.#listeners.get(roomId) ?? []) if (room?.members.has(listener.userId) === true) listener.send(frame);
  }
}
