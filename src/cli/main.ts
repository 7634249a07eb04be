import { EXIT, EXIT_CODES_HELP, parseCommand, UsageError } from './arguments.js';
import type { CliIo } from './cli-services.js';
import { reportError } from './report-error.js';

const USAGE = `usage: gatehouse <command> [options]

commands:
  serve     run the server (configuration from the environment; see README)
  users     create accounts (the first admin too), list, disable, enable, lock, unlock, log out,
            grant and revoke roles, delete
  keys      stored signing keys: list, create, rotate, retire, revoke (GATEHOUSE_KEY_SOURCE=store)
  routes    every route with its method, path and requirement; flags risky ones
  doctor    check configuration, keys, database, Redis and clock; list what is unsafe for production
  tenants   create tenants, add and remove members, grant and revoke tenant roles
  service-accounts
            machine principals (no password, no sign-in) and their API keys: create, list,
            disable, delete; keys create, list, revoke
  help      show this text

Every command takes --help.

${EXIT_CODES_HELP}`;

const SERVE_USAGE = `usage: gatehouse serve

Runs Gatehouse until SIGINT or SIGTERM. Configuration comes from the environment (see README).
Exit 1 with one line per problem when the configuration is invalid.`;

async function run(argv: readonly string[], io: CliIo): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'serve': {
      if (parseCommand(rest, { usage: SERVE_USAGE, options: {}, positionals: [] }).help) {
        io.stdout.write(`${SERVE_USAGE}\n`);
        return EXIT.OK;
      }
      const { loadConfig } = await import('../config/config.js');
      const config = loadConfig(io.env, { needs: 'server' });
      // Started before the server's modules load, so the two overlap (see pglite-artifacts.ts).
      if (config.database.kind !== 'postgres') (await import('../stores/db/pglite-artifacts.js')).prefetchPgliteArtifacts();
      const { serve } = await import('./serve.js');
      await serve(config);
      return -1;
    }
    case 'users':
      return (await import('./users-command.js')).usersCommand(rest, io);
    case 'keys':
      return (await import('./keys-command.js')).keysCommand(rest, io);
    case 'routes':
      return (await import('./routes-command.js')).routesCommand(rest, io);
    case 'doctor':
      return (await import('./doctor-command.js')).doctorCommand(rest, io);
    case 'tenants':
      return (await import('./tenants-command.js')).tenantsCommand(rest, io);
    case 'service-accounts':
      return (await import('./service-accounts-command.js')).serviceAccountsCommand(rest, io);
    case 'help':
    case '--help':
    case '-h':
      io.stdout.write(`${USAGE}\n`);
      return EXIT.OK;
    case undefined:
      throw new UsageError('missing <command>', USAGE);
    default:
      throw new UsageError(command.startsWith('-') ? `unknown option ${command.split('=')[0]}` : `unknown command ${JSON.stringify(command)}`, USAGE);
  }
}

const io: CliIo = { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr, env: process.env };

const code = await run(process.argv.slice(2), io).catch((error: unknown) => reportError(error, io));
if (code >= 0) {
  // Flush what was written (pipes may be asynchronous) before exiting with the code.
  await new Promise<void>((resolve) => process.stdout.write('', () => resolve()));
  process.exit(code);
}
