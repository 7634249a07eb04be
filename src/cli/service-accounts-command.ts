import { apiKeyJson, createdApiKeyJson } from '../apikeys/api-key-json.js';
import {
  createServiceAccount,
  createServiceAccountKey,
  deleteServiceAccount,
  disableServiceAccount,
  listServiceAccountKeys,
  listServiceAccounts,
  revokeServiceAccountKey,
  type ServiceAccount,
  serviceAccountDeps,
} from '../admin/service-accounts.js';
import { serviceAccountJson } from '../admin/service-account-json.js';
import { NotFoundError } from '../errors/errors.js';
import { isUuid } from '../ids/uuid.js';
import type { GatehouseServices } from '../services.js';
import { findTenant } from '../tenants/tenant-admin.js';
import { usernameKey } from '../users/username.js';
import { EXIT, EXIT_CODES_HELP, integerOption, parseCommand, UsageError } from './arguments.js';
import { formatColumns, printUsage, refuseSubcommand, withExitCodes } from './command-output.js';
import { CLI_ACTOR, withServices, type CliIo } from './cli-services.js';

export const SERVICE_ACCOUNTS_USAGE = `usage: gatehouse service-accounts <subcommand> …

Service accounts are principals with no password that cannot sign in: they authenticate with
their API keys only (X-API-Key, or as the client secret of the client-credentials grant, with the
account id as client_id).

subcommands:
  create <name> [--role R]… [--tenant T] [--json]
                         a new account; with --tenant its roles are held in that tenant only
  list [--limit N] [--json]
                         accounts ordered by name
  disable <account>      every key of the account is refused at once, on every instance
  delete <account> --yes delete the account and its keys; its audit rows stay
  keys create <account> --name N --scope S… [--tenant T] [--expires-in SECONDS] [--json]
                         a key (printed once); its scopes must be ones the account holds
  keys list <account> [--json]
                         the account's keys (never the key itself)
  keys revoke <account> <key-id>
                         refused on every instance within a second

<account> is a service account's name or id; <tenant> a slug or a tenant id.
Each subcommand takes --help. Configuration comes from the environment, as for gatehouse serve.

${EXIT_CODES_HELP}`;

const deps = serviceAccountDeps;

/** The id of the account a name or id names (the use cases refuse anything that is not a service account). */
async function accountId(services: GatehouseServices, ref: string): Promise<string> {
  if (isUuid(ref)) return ref;
  const found = await services.users.findByUsernameKey(usernameKey(ref));
  if (found?.kind !== 'service') throw new NotFoundError('no such service account');
  return found.id;
}

const tenantIdOf = async (services: GatehouseServices, ref: string | undefined): Promise<string | undefined> =>
  ref === undefined ? undefined : (await findTenant({ tenants: services.tenants }, ref)).id;

const statusOf = (a: ServiceAccount): string => (a.account.disabledAt === null ? 'active' : 'disabled');
const rolesOf = (a: ServiceAccount): string => [...a.account.roles, ...a.tenants.flatMap((m) => m.roles.map((r) => `${m.tenant.slug}:${r}`))].join(',') || '-';

function accountTable(accounts: readonly ServiceAccount[]): string {
  return formatColumns([['NAME', 'ID', 'STATUS', 'ROLES'], ...accounts.map((a) => [a.account.username, a.account.id, statusOf(a), rolesOf(a)])]);
}

async function create(argv: readonly string[], io: CliIo): Promise<number> {
  const usage = withExitCodes(`usage: gatehouse service-accounts create <name> [--role R]… [--tenant T] [--json]

Creates a service account (named like a username, in the same namespace). --role may repeat:
global roles, or with --tenant the roles it holds in that tenant (and no global role).`);
  const parsed = parseCommand(argv, {
    usage,
    options: { role: { type: 'string', multiple: true }, tenant: { type: 'string' }, json: { type: 'boolean' } },
    positionals: ['name'],
  });
  if (parsed.help) return printUsage(io, usage);
  const { values, positionals } = parsed;
  return withServices(io, async (services) => {
    const tenantId = await tenantIdOf(services, values.tenant);
    const created = await createServiceAccount(deps(services), CLI_ACTOR, { name: positionals[0]!, roles: values.role ?? [], tenantId });
    io.stdout.write(
      values.json === true ? `${JSON.stringify(serviceAccountJson(created))}\n` : `created service account ${created.account.username} ${created.account.id}\n`,
    );
    return EXIT.OK;
  });
}

async function list(argv: readonly string[], io: CliIo): Promise<number> {
  const usage = withExitCodes('usage: gatehouse service-accounts list [--limit N] [--json]\n\nService accounts ordered by name; --limit 1-200 (default 50).');
  const parsed = parseCommand(argv, { usage, options: { limit: { type: 'string' }, json: { type: 'boolean' } }, positionals: [] });
  if (parsed.help) return printUsage(io, usage);
  const limit = integerOption(parsed.values.limit, 'limit', 50, 1, 200, usage);
  return withServices(io, async (services) => {
    const { accounts } = await listServiceAccounts(deps(services), { limit });
    io.stdout.write(parsed.values.json === true ? `${JSON.stringify(accounts.map(serviceAccountJson))}\n` : `${accountTable(accounts)}\n`);
    return EXIT.OK;
  });
}

async function act(action: 'disable' | 'delete', argv: readonly string[], io: CliIo): Promise<number> {
  const usage = withExitCodes(
    action === 'disable'
      ? 'usage: gatehouse service-accounts disable <account>\n\nEvery key of the account is refused at once, on every instance.'
      : 'usage: gatehouse service-accounts delete <account> --yes\n\nDeletes the account and its keys; its audit rows stay.',
  );
  const parsed = parseCommand(argv, { usage, options: action === 'delete' ? { yes: { type: 'boolean' } } : {}, positionals: ['account'] });
  if (parsed.help) return printUsage(io, usage);
  if (action === 'delete' && (parsed.values as { yes?: boolean }).yes !== true) throw new UsageError('deleting a service account needs --yes', usage);
  return withServices(io, async (services) => {
    const id = await accountId(services, parsed.positionals[0]!);
    if (action === 'disable') await disableServiceAccount(deps(services), CLI_ACTOR, id);
    else await deleteServiceAccount(deps(services), CLI_ACTOR, id);
    io.stdout.write(`${action === 'disable' ? 'disabled' : 'deleted'} service account ${id}\n`);
    return EXIT.OK;
  });
}

async function keys(argv: readonly string[], io: CliIo): Promise<number> {
  const [subcommand, ...rest] = argv;
  switch (subcommand) {
    case 'create':
      return createKey(rest, io);
    case 'list':
      return listKeys(rest, io);
    case 'revoke':
      return revokeKey(rest, io);
    default:
      return refuseSubcommand(subcommand, SERVICE_ACCOUNTS_USAGE);
  }
}

const MAX_EXPIRY_SECONDS = 5 * 365 * 86_400;

async function createKey(argv: readonly string[], io: CliIo): Promise<number> {
  const usage = withExitCodes(`usage: gatehouse service-accounts keys create <account> --name N --scope S… [--tenant T] [--expires-in SECONDS] [--json]

Creates an API key of the account and prints it once (nobody can show it again). --scope repeats;
each must be held by the account, and is checked again at every use. --expires-in 60-${MAX_EXPIRY_SECONDS}.`);
  const parsed = parseCommand(argv, {
    usage,
    options: {
      name: { type: 'string' },
      scope: { type: 'string', multiple: true },
      tenant: { type: 'string' },
      'expires-in': { type: 'string' },
      json: { type: 'boolean' },
    },
    positionals: ['account'],
  });
  if (parsed.help) return printUsage(io, usage);
  const { values } = parsed;
  if (values.name === undefined) throw new UsageError('missing --name', usage);
  if (values.scope === undefined) throw new UsageError('missing --scope (at least one)', usage);
  const expires = values['expires-in'] === undefined ? undefined : integerOption(values['expires-in'], 'expires-in', 0, 60, MAX_EXPIRY_SECONDS, usage);
  const name = values.name;
  const scopes = values.scope;
  return withServices(io, async (services) => {
    const id = await accountId(services, parsed.positionals[0]!);
    const tenantId = await tenantIdOf(services, values.tenant);
    const created = await createServiceAccountKey(deps(services), CLI_ACTOR, id, { name, scopes, tenantId, expiresInSeconds: expires });
    io.stdout.write(values.json === true ? `${JSON.stringify(createdApiKeyJson(created))}\n` : `${created.token}\n`);
    if (values.json !== true) io.stderr.write(`created key ${created.key.id} of service account ${id}: store it now, it is not shown again\n`);
    return EXIT.OK;
  });
}

async function listKeys(argv: readonly string[], io: CliIo): Promise<number> {
  const usage = withExitCodes("usage: gatehouse service-accounts keys list <account> [--json]\n\nThe account's keys, newest first (never the key itself).");
  const parsed = parseCommand(argv, { usage, options: { json: { type: 'boolean' } }, positionals: ['account'] });
  if (parsed.help) return printUsage(io, usage);
  return withServices(io, async (services) => {
    const found = await listServiceAccountKeys(deps(services), await accountId(services, parsed.positionals[0]!));
    const rows = found.map((k) => [
      k.id,
      k.name,
      k.scopes.join(','),
      k.revokedAt === null ? 'live' : `revoked ${k.revokedAt.toISOString()}`,
      k.expiresAt?.toISOString() ?? '-',
    ]);
    io.stdout.write(
      parsed.values.json === true
        ? `${JSON.stringify(found.map(apiKeyJson))}\n`
        : `${formatColumns([['ID', 'NAME', 'SCOPES', 'STATE', 'EXPIRES'], ...rows])}\n`,
    );
    return EXIT.OK;
  });
}

async function revokeKey(argv: readonly string[], io: CliIo): Promise<number> {
  const usage = withExitCodes('usage: gatehouse service-accounts keys revoke <account> <key-id>\n\nThe key is refused on every instance within a second.');
  const parsed = parseCommand(argv, { usage, options: {}, positionals: ['account', 'key-id'] });
  if (parsed.help) return printUsage(io, usage);
  return withServices(io, async (services) => {
    const id = await accountId(services, parsed.positionals[0]!);
    await revokeServiceAccountKey(deps(services), CLI_ACTOR, id, parsed.positionals[1]!);
    io.stdout.write(`revoked key ${parsed.positionals[1]!} of service account ${id}\n`);
    return EXIT.OK;
  });
}

/** `gatehouse service-accounts …`: the same use cases as `/admin/service-accounts`. */
export async function serviceAccountsCommand(argv: readonly string[], io: CliIo): Promise<number> {
  const [subcommand, ...rest] = argv;
  switch (subcommand) {
    case 'create':
      return create(rest, io);
    case 'list':
      return list(rest, io);
    case 'disable':
    case 'delete':
      return act(subcommand, rest, io);
    case 'keys':
      return keys(rest, io);
    case '--help':
    case '-h':
    case 'help':
      return printUsage(io, SERVICE_ACCOUNTS_USAGE);
    default:
      return refuseSubcommand(subcommand, SERVICE_ACCOUNTS_USAGE);
  }
}
