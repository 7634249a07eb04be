import { GatehouseError } from '../../errors/errors.js';
import type { UnitOfWork, UnitStores } from '../unit-of-work.js';
import type { UserDirectory } from '../../users/user-directory.js';
import type { UserStore } from '../../users/user-store.js';
import { databaseFailure, type Db } from './database.js';
import { createDrizzleEmailCodeStore } from './drizzle-email-code-store.js';
import { createDrizzleRevocationStore } from './drizzle-revocation-store.js';
import { createDrizzleSessionStore } from './drizzle-session-store.js';
import { createDrizzleTenantStore } from './drizzle-tenant-store.js';
import { createDrizzleUserDirectory } from './drizzle-user-directory.js';
import { createDrizzleUserStore } from './drizzle-user-store.js';

export interface DrizzleUnitOfWorkOptions {
  /** Called once per user written in a unit, after it committed or rolled back (the user cache drops it). */
  readonly onUserWritten?: (id: string) => void;
}

/**
 * UnitOfWork over one drizzle transaction. The stores are the usual drizzle stores bound to the
 * transaction; their own transactions become savepoints inside it.
 */
export function createDrizzleUnitOfWork(db: Db, options: DrizzleUnitOfWorkOptions = {}): UnitOfWork {
  return async (work) => {
    const written = new Set<string>();
    try {
      return await db.transaction((tx) => work(unitStores(tx as unknown as Db, (id) => written.add(id))));
    } catch (error) {
      throw error instanceof GatehouseError ? error : databaseFailure(error);
    } finally {
      for (const id of written) options.onUserWritten?.(id);
    }
  };
}

function unitStores(tx: Db, written: (id: string) => void): UnitStores {
  const users = createDrizzleUserStore(tx);
  const directory = createDrizzleUserDirectory(tx);
  const noting =
    <A extends [string, ...unknown[]], R>(write: (...args: A) => Promise<R>) =>
    (...args: A): Promise<R> => {
      written(args[0]);
      return write(...args);
    };
  const notingUsers: UserStore = {
    ...users,
    replacePasswordHash: noting(users.replacePasswordHash),
    confirmEmail: noting(users.confirmEmail),
    revokeAllTokens: noting(users.revokeAllTokens),
    delete: noting(users.delete),
  };
  const notingDirectory: UserDirectory = {
    ...directory,
    setStatus: noting(directory.setStatus),
    changeRole: noting(directory.changeRole),
    delete: noting(directory.delete),
  };
  return {
    users: notingUsers,
    sessions: createDrizzleSessionStore(tx),
    denyList: createDrizzleRevocationStore(tx),
    directory: notingDirectory,
    tenants: createDrizzleTenantStore(tx),
    emailCodes: createDrizzleEmailCodeStore(tx),
  };
}
