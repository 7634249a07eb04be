import { addMember, changeMemberRole, createTenant, findTenant, removeMember, type TenantAdminDeps } from '../tenants/tenant-admin.js';
import type { MembershipRecord, TenantRecord } from '../tenants/tenant.js';
import type { GatehouseServices } from '../services.js';
import { EXIT, EXIT_CODES_HELP, integerOption, parseCommand } from './arguments.js';
import { formatColumns, printUsage, refuseSubcommand, withExitCodes } from './command-output.js';
import { CLI_ACTOR, withServices, type CliIo } from './cli-services.js';
import { resolveUser } from './user-reference.js';

export const TENANTS_USAGE = `usage: gatehouse tenants <subcommand> …

subcommands:
  create <slug> [--name N] [--json]     create a tenant (slug: lower-case letters, digits, inner hyphens)
  list [--limit N] [--json]             tenants ordered by slug
  members <tenant> [--limit N] [--json] the members of a tenant and their roles there
  add <tenant> <user>                   make the user a member (no roles yet); idempotent
  remove <tenant> <user>                end the membership; the user's live tokens die
  grant <tenant> <user> <role>          grant a role held in this tenant only
  revoke <tenant> <user> <role>         take it away; the user's live tokens die

<tenant> is a slug or a tenant id; <user> a username or a user id. A user logs in to a tenant with
the tenant parameter (tenant=acme); a user of exactly one tenant gets it by default. Roles of one
tenant mean nothing in another; admin and user are global roles (gatehouse users grant).
Each subcommand takes --help. Configuration comes from the environment, as for gatehouse serve.

${EXIT_CODES_HELP}`;

function deps(services: GatehouseServices): TenantAdminDeps {
  return { tenants: services.tenants, revocations: services.revocations, scopes: services.scopes, now: services.now };
}

const tenantJson = (t: TenantRecord) => ({ id: t.id, slug: t.slug, name: t.name, created_at: t.createdAt.toISOString() });
const memberJson = (m: MembershipRecord) => ({ tenant_id: m.tenantId, user_id: m.userId, roles: [...m.roles], created_at: m.createdAt.toISOString() });

async function create(argv: readonly string[], io: CliIo): Promise<number> {
  const usage = withExitCodes(
    'usage: gatehouse tenants create <slug> [--name N] [--json]\n\nCreates a tenant. The slug is what a login names (tenant=<slug>); --name defaults to it.',
  );
  const parsed = parseCommand(argv, { usage, options: { name: { type: 'string' }, json: { type: 'boolean' } }, positionals: ['slug'] });
  if (parsed.help) return printUsage(io, usage);
  const { values, positionals } = parsed;
  return withServices(io, async (services) => {
    const tenant = await createTenant(deps(services), CLI_ACTOR, { slug: positionals[0]!, ...(values.name === undefined ? {} : { name: values.name }) });
    io.stdout.write(values.json === true ? `${JSON.stringify(tenantJson(tenant))}\n` : `created tenant ${tenant.slug} ${tenant.id}\n`);
    return EXIT.OK;
  });
}

async function list(argv: readonly string[], io: CliIo): Promise<number> {
  const usage = withExitCodes('usage: gatehouse tenants list [--limit N] [--json]\n\nTenants ordered by slug; --limit 1-200 (default 50).');
  const parsed = parseCommand(argv, { usage, options: { limit: { type: 'string' }, json: { type: 'boolean' } }, positionals: [] });
  if (parsed.help) return printUsage(io, usage);
  const limit = integerOption(parsed.values.limit, 'limit', 50, 1, 200, usage);
  return withServices(io, async (services) => {
    const tenants = await services.tenants.list({ limit });
    if (parsed.values.json === true) io.stdout.write(`${JSON.stringify(tenants.map(tenantJson))}\n`);
    else io.stdout.write(`${formatColumns([['SLUG', 'ID', 'NAME'], ...tenants.map((t) => [t.slug, t.id, t.name])])}\n`);
    return EXIT.OK;
  });
}

async function members(argv: readonly string[], io: CliIo): Promise<number> {
  const usage = withExitCodes('usage: gatehouse tenants members <tenant> [--limit N] [--json]\n\nThe members of a tenant and the roles each holds there.');
  const parsed = parseCommand(argv, { usage, options: { limit: { type: 'string' }, json: { type: 'boolean' } }, positionals: ['tenant'] });
  if (parsed.help) return printUsage(io, usage);
  const limit = integerOption(parsed.values.limit, 'limit', 50, 1, 200, usage);
  return withServices(io, async (services) => {
    const tenant = await findTenant(deps(services), parsed.positionals[0]!);
    const rows = await services.tenants.members(tenant.id, { limit });
    if (parsed.values.json === true) {
      io.stdout.write(`${JSON.stringify(rows.map(memberJson))}\n`);
      return EXIT.OK;
    }
    const names = await Promise.all(rows.map(async (m) => (await services.users.findById(m.userId))?.username ?? '(deleted)'));
    io.stdout.write(`${formatColumns([['USERNAME', 'USER ID', 'ROLES'], ...rows.map((m, i) => [names[i]!, m.userId, m.roles.join(',') || '-'])])}\n`);
    return EXIT.OK;
  });
}

async function membership(action: 'add' | 'remove', argv: readonly string[], io: CliIo): Promise<number> {
  const usage = withExitCodes(
    action === 'add'
      ? 'usage: gatehouse tenants add <tenant> <user>\n\nMakes the user a member of the tenant, with no roles; adding a member twice changes nothing.'
      : "usage: gatehouse tenants remove <tenant> <user>\n\nEnds the membership. The user's live access tokens die at once (token version) and the\nsessions bound to the tenant can no longer refresh.",
  );
  const parsed = parseCommand(argv, { usage, options: {}, positionals: ['tenant', 'user'] });
  if (parsed.help) return printUsage(io, usage);
  return withServices(io, async (services) => {
    const user = await resolveUser(services.users, parsed.positionals[1]!);
    if (action === 'add') await addMember(deps(services), CLI_ACTOR, parsed.positionals[0]!, user.id);
    else await removeMember(deps(services), CLI_ACTOR, parsed.positionals[0]!, user.id);
    io.stdout.write(`${action === 'add' ? 'added' : 'removed'} ${user.username} ${action === 'add' ? 'to' : 'from'} ${parsed.positionals[0]}\n`);
    return EXIT.OK;
  });
}

async function role(grant: boolean, argv: readonly string[], io: CliIo): Promise<number> {
  const verb = grant ? 'grant' : 'revoke';
  const usage = withExitCodes(
    `usage: gatehouse tenants ${verb} <tenant> <user> <role>\n\n${grant ? 'Grants a role held in this tenant only; the user must be a member (tenants add).' : 'Takes a tenant role away; tokens minted while the user held it die at once.'}`,
  );
  const parsed = parseCommand(argv, { usage, options: {}, positionals: ['tenant', 'user', 'role'] });
  if (parsed.help) return printUsage(io, usage);
  const [tenantRef, userRef, roleName] = parsed.positionals as [string, string, string];
  return withServices(io, async (services) => {
    const user = await resolveUser(services.users, userRef);
    const changed = await changeMemberRole(deps(services), CLI_ACTOR, tenantRef, user.id, roleName, grant);
    io.stdout.write(
      `${grant ? 'granted' : 'revoked'} ${roleName} ${grant ? 'to' : 'from'} ${user.username} in ${tenantRef}; roles there: ${changed.roles.join(',') || '-'}\n`,
    );
    return EXIT.OK;
  });
}

/** `gatehouse tenants …`: tenants and memberships through the same use cases as the admin API. */
export async function tenantsCommand(argv: readonly string[], io: CliIo): Promise<number> {
  const [subcommand, ...rest] = argv;
  switch (subcommand) {
    case 'create':
      return create(rest, io);
    case 'list':
      return list(rest, io);
    case 'members':
      return members(rest, io);
    case 'add':
    case 'remove':
      return membership(subcommand, rest, io);
    case 'grant':
    case 'revoke':
      return role(subcommand === 'grant', rest, io);
    case '--help':
    case '-h':
    case 'help':
      return printUsage(io, TENANTS_USAGE);
    default:
      return refuseSubcommand(subcommand, TENANTS_USAGE);
  }
}
