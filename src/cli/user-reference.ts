import { NotFoundError } from '../errors/errors.js';
import type { UserRecord, UserStore } from '../users/user-store.js';
import { usernameKey } from '../users/username.js';
import { CommandError, EXIT } from './arguments.js';
import { isUuid } from '../ids/uuid.js';

/** How the operator named the user: `auto` tells a UUID from a username by its shape. */
export type UserReferenceKind = 'auto' | 'id' | 'username';

/** Thrown for a user that does not exist; the CLI exits 3. */
export function noSuchUser(reference: string): NotFoundError {
  return new NotFoundError(`no such user: ${JSON.stringify(reference)}`);
}

/**
 * Finds the user a command line names, by id or by username (normalised as at login).
 *
 * A username may itself have the shape of a UUID, so someone could register another user's id as
 * their username. When a UUID-shaped reference is both the id of one user and the username of
 * another, the command refuses rather than guess (exit 2); `--id` or `--username` settles it.
 */
export async function resolveUser(
  users: Pick<UserStore, 'findById' | 'findByUsernameKey'>,
  reference: string,
  kind: UserReferenceKind = 'auto',
): Promise<UserRecord> {
  if (kind === 'id' && !isUuid(reference)) throw new CommandError(`--id expects a user id (a UUID), got ${JSON.stringify(reference)}`, EXIT.USAGE);
  const byId = kind !== 'username' && isUuid(reference) ? await users.findById(reference.toLowerCase()) : undefined;
  const byName = kind !== 'id' ? await users.findByUsernameKey(usernameKey(reference)) : undefined;
  if (byId !== undefined && byName !== undefined && byId.id !== byName.id) {
    throw new CommandError(
      `${JSON.stringify(reference)} is the id of user ${JSON.stringify(byId.username)} and the username of another user (${byName.id}); pass --id or --username`,
      EXIT.USAGE,
    );
  }
  const user = byId ?? byName;
  if (user === undefined) throw noSuchUser(reference);
  return user;
}
