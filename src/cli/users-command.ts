import { resetSecondFactors } from '../factors/factors.js';
import { changeUserRole, changeUserStatus, deleteUser, forceLogout, listUsers, type UserAdminDeps } from '../admin/user-admin.js';
import { loadConfig } from '../config/config.js';
import { ADMIN_ROLE } from '../oauth/scope-catalogue.js';
import { checkPassword } from '../passwords/password-policy.js';
import type { GatehouseServices } from '../services.js';
import { registerUser } from '../users/registration.js';
import type { UserRecord } from '../users/user-store.js';
import { normalizeUsername } from '../users/username.js';
import { EXIT, EXIT_CODES_HELP, integerOption, parseCommand, UsageError } from './arguments.js';
import { formatColumns, printUsage, refuseSubcommand, withExitCodes } from './command-output.js';
import { CLI_ACTOR, CLI_AUDIT_CONTEXT, withServices, type CliIo } from './cli-services.js';
import { promptNewPassword, readPasswordLine } from './password-input.js';
import { resolveUser, type UserReferenceKind } from './user-reference.js';

const USER_HELP = `<user> is a username or a user id (UUID). When a UUID is also another user's username the
command refuses to guess: add --id or --username.`;

export const USERS_USAGE = `usage: gatehouse users <subcommand> …

subcommands:
  create <username> [--email E] [--admin] [--password-stdin] [--json]
                         create an account; the password is prompted for twice (hidden), or read
                         as one line from stdin with --password-stdin; never from the command line
  list [--search S] [--limit N] [--json]
                         accounts ordered by username (search: start of username or email)
  show <user> [--json]   one account: roles, disabled, locked
  disable <user>         no login, no refresh; every session and token of the account dies
  enable <user>          lift the disable (what was revoked stays revoked)
  lock <user>            like disable, as a security lock
  unlock <user>          lift the lock
  logout <user>          end every session and token of the account
  reset-factors <user>   remove every TOTP factor and recovery code (a lost authenticator)
  grant <user> <role>    grant a role (admin); revoke <user> <role> takes it away, tokens included
  delete <user> --yes    delete the account and its sessions; its audit rows stay

${USER_HELP}
Each subcommand takes --help. Configuration comes from the environment, as for gatehouse serve;
with the embedded database (PGlite on disk) stop the server first: one process at a time.

${EXIT_CODES_HELP}`;

const REFERENCE_OPTIONS = { id: { type: 'boolean' }, username: { type: 'boolean' } } as const;

interface UserView {
  readonly id: string;
  readonly username: string;
  readonly email: string | null;
  readonly roles: readonly string[];
  readonly created_at: string;
  readonly disabled_at: string | null;
  readonly locked_at: string | null;
}

/** The JSON form; the same fields, names and order as the admin API's account view. */
export function userView(user: UserRecord): UserView {
  return {
    id: user.id,
    username: user.username,
    email: user.email,
    roles: [...user.roles],
    created_at: user.createdAt.toISOString(),
    disabled_at: user.disabledAt?.toISOString() ?? null,
    locked_at: user.lockedAt?.toISOString() ?? null,
  };
}

function statusOf(user: UserRecord): string {
  const marks = [user.disabledAt === null ? '' : 'disabled', user.lockedAt === null ? '' : 'locked'].filter((m) => m !== '');
  return marks.length === 0 ? 'active' : marks.join(',');
}

/** One line per user, columns aligned: username, id, status, roles, email. */
export function formatUserTable(users: readonly UserRecord[]): string {
  const rows = [['USERNAME', 'ID', 'STATUS', 'ROLES', 'EMAIL'], ...users.map((u) => [u.username, u.id, statusOf(u), u.roles.join(',') || '-', u.email ?? '-'])];
  return formatColumns(rows);
}

function adminDeps(services: GatehouseServices): UserAdminDeps {
  return { directory: services.userDirectory, users: services.users, revocations: services.revocations, scopes: services.scopes, now: services.now };
}

function referenceKind(values: { id?: boolean; username?: boolean }, usage: string): UserReferenceKind {
  if (values.id === true && values.username === true) throw new UsageError('--id and --username exclude each other', usage);
  return values.id === true ? 'id' : values.username === true ? 'username' : 'auto';
}

const CREATE_USAGE = `usage: gatehouse users create <username> [--email E] [--admin] [--password-stdin] [--json]

Creates an account under the same username and password rules as POST /auth/register.
The password is never taken from the command line (ps and shell history would keep it):
  - in a terminal it is prompted for twice, hidden;
  - with --password-stdin it is the first line of stdin:  printf '%s\\n' "$PW" | gatehouse users create …
--admin grants the admin role (scopes admin:users, admin:audit, admin:tenants): this is how the first admin is made.
--json prints the new account as JSON.`;

async function create(argv: readonly string[], io: CliIo): Promise<number> {
  const usage = withExitCodes(CREATE_USAGE);
  const parsed = parseCommand(argv, {
    usage,
    options: { email: { type: 'string' }, admin: { type: 'boolean' }, 'password-stdin': { type: 'boolean' }, json: { type: 'boolean' } },
    positionals: ['username'],
  });
  if (parsed.help) return printUsage(io, usage);
  const { values, positionals } = parsed;
  const username = positionals[0]!;
  // Rules first, before a password is asked for or a store is opened.
  const config = loadConfig(io.env, { needs: 'database' });
  const display = normalizeUsername(username).display;
  const policy = (password: string) => checkPassword(password, { username: display, email: values.email }, { minLength: config.passwordMinLength });
  let password: string;
  if (values['password-stdin'] === true) {
    password = await readPasswordLine(io.stdin);
    policy(password);
  } else if (io.stdin.isTTY === true) {
    password = await promptNewPassword(io, display, policy);
  } else {
    throw new UsageError('stdin is not a terminal: pass --password-stdin and pipe the password (one line)', usage);
  }
  return withServices(
    io,
    async (services) => {
      let user = await registerUser(
        { users: services.users, hasher: services.hasher, passwordMinLength: config.passwordMinLength },
        { username, email: values.email ?? null, password },
        CLI_AUDIT_CONTEXT,
      );
      if (values.admin === true) user = await changeUserRole(adminDeps(services), CLI_ACTOR, user.id, ADMIN_ROLE, true);
      if (values.json === true) io.stdout.write(`${JSON.stringify(userView(user))}\n`);
      else io.stdout.write(`created ${user.username} ${user.id}${values.admin === true ? ' (admin)' : ''}\n`);
      return EXIT.OK;
    },
    config,
  );
}

const LIST_USAGE = `usage: gatehouse users list [--search S] [--limit N] [--json]

Accounts ordered by username. --search matches the start of the username or of the email;
--limit 1-200 (default 50); --json prints a JSON array of accounts.`;

async function list(argv: readonly string[], io: CliIo): Promise<number> {
  const usage = withExitCodes(LIST_USAGE);
  const parsed = parseCommand(argv, { usage, options: { search: { type: 'string' }, limit: { type: 'string' }, json: { type: 'boolean' } }, positionals: [] });
  if (parsed.help) return printUsage(io, usage);
  const { values } = parsed;
  const limit = integerOption(values.limit, 'limit', 50, 1, 200, usage);
  return withServices(io, async (services) => {
    const users = await listUsers(adminDeps(services), { limit, ...(values.search === undefined ? {} : { search: values.search }) });
    if (values.json === true) io.stdout.write(`${JSON.stringify(users.map(userView))}\n`);
    else io.stdout.write(`${formatUserTable(users)}\n`);
    if (users.length === limit && values.json !== true) io.stderr.write(`(showing the first ${limit}; raise --limit or narrow --search)\n`);
    return EXIT.OK;
  });
}

const SHOW_USAGE = `usage: gatehouse users show <user> [--id | --username] [--json]

${USER_HELP}`;

async function show(argv: readonly string[], io: CliIo): Promise<number> {
  const usage = withExitCodes(SHOW_USAGE);
  const parsed = parseCommand(argv, { usage, options: { ...REFERENCE_OPTIONS, json: { type: 'boolean' } }, positionals: ['user'] });
  if (parsed.help) return printUsage(io, usage);
  const kind = referenceKind(parsed.values, usage);
  return withServices(io, async (services) => {
    const user = await resolveUser(services.users, parsed.positionals[0]!, kind);
    io.stdout.write(parsed.values.json === true ? `${JSON.stringify(userView(user))}\n` : `${formatUserTable([user])}\n`);
    return EXIT.OK;
  });
}

type Action = 'disable' | 'enable' | 'lock' | 'unlock' | 'logout' | 'reset-factors' | 'delete';

const ACTION_TEXT: Record<Action, { done: string; what: string }> = {
  disable: { done: 'disabled', what: 'No login, no refresh; every session and access token of the account dies at once.' },
  enable: { done: 'enabled', what: 'Lifts the disable. Sessions and tokens revoked by it stay revoked: the user logs in again.' },
  lock: { done: 'locked', what: 'Like disable, marked as a security lock.' },
  unlock: { done: 'unlocked', what: 'Lifts the lock. Sessions and tokens revoked by it stay revoked.' },
  logout: { done: 'logged out', what: 'Ends every session of the account; every access token it holds dies at once.' },
  'reset-factors': {
    done: 'second factors removed from',
    what: 'Removes every TOTP factor and recovery code of the account (a lost authenticator): the password signs in alone again. Passkeys stay.',
  },
  delete: { done: 'deleted', what: 'Deletes the account and its sessions; its tokens die, its audit rows stay. Needs --yes.' },
};

async function act(action: Action, argv: readonly string[], io: CliIo): Promise<number> {
  const usage = withExitCodes(
    `usage: gatehouse users ${action} <user> [--id | --username]${action === 'delete' ? ' --yes' : ''}\n\n${ACTION_TEXT[action].what}\n${USER_HELP}`,
  );
  const parsed = parseCommand(argv, {
    usage,
    options: { ...REFERENCE_OPTIONS, ...(action === 'delete' ? { yes: { type: 'boolean' } } : {}) },
    positionals: ['user'],
  });
  if (parsed.help) return printUsage(io, usage);
  const kind = referenceKind(parsed.values, usage);
  if (action === 'delete' && (parsed.values as { yes?: boolean }).yes !== true) throw new UsageError('deleting an account needs --yes', usage);
  return withServices(io, async (services) => {
    const deps = adminDeps(services);
    const user = await resolveUser(services.users, parsed.positionals[0]!, kind);
    if (action === 'logout') await forceLogout(deps, CLI_ACTOR, user.id);
    else if (action === 'reset-factors') await resetSecondFactors(services.factors, CLI_ACTOR, user.id);
    else if (action === 'delete') await deleteUser(deps, CLI_ACTOR, user.id);
    else await changeUserStatus(deps, CLI_ACTOR, user.id, action);
    io.stdout.write(`${ACTION_TEXT[action].done} ${user.username} ${user.id}\n`);
    return EXIT.OK;
  });
}

async function role(grant: boolean, argv: readonly string[], io: CliIo): Promise<number> {
  const verb = grant ? 'grant' : 'revoke';
  const usage = withExitCodes(
    `usage: gatehouse users ${verb} <user> <role> [--id | --username]\n\n${grant ? 'Grants a global role (admin: scopes admin:users, admin:audit, admin:tenants).' : 'Takes a role away; tokens minted while the user held it die at once.'}\n${USER_HELP}`,
  );
  const parsed = parseCommand(argv, { usage, options: REFERENCE_OPTIONS, positionals: ['user', 'role'] });
  if (parsed.help) return printUsage(io, usage);
  const kind = referenceKind(parsed.values, usage);
  return withServices(io, async (services) => {
    const user = await resolveUser(services.users, parsed.positionals[0]!, kind);
    const changed = await changeUserRole(adminDeps(services), CLI_ACTOR, user.id, parsed.positionals[1]!, grant);
    io.stdout.write(
      `${grant ? 'granted' : 'revoked'} ${parsed.positionals[1]} ${grant ? 'to' : 'from'} ${changed.username} ${changed.id}; roles: ${changed.roles.join(',') || '-'}\n`,
    );
    return EXIT.OK;
  });
}

/** `gatehouse users …`: account administration through the same use cases as the admin API. */
export async function usersCommand(argv: readonly string[], io: CliIo): Promise<number> {
  const [subcommand, ...rest] = argv;
  switch (subcommand) {
    case 'create':
      return create(rest, io);
    case 'list':
      return list(rest, io);
    case 'show':
      return show(rest, io);
    case 'disable':
    case 'enable':
    case 'lock':
    case 'unlock':
    case 'logout':
    case 'reset-factors':
    case 'delete':
      return act(subcommand, rest, io);
    case 'grant':
    case 'revoke':
      return role(subcommand === 'grant', rest, io);
    case '--help':
    case '-h':
    case 'help':
      return printUsage(io, USERS_USAGE);
    default:
      return refuseSubcommand(subcommand, USERS_USAGE);
  }
}
