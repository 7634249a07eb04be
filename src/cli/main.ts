import { loadConfig } from '../config/config.js';
import { ConfigError, GatehouseError } from '../errors/errors.js';
import { serve } from './serve.js';

const USAGE = `usage: gatehouse <command>

commands:
  serve     run the server (configuration from the environment; see README)
  help      show this text`;

/** Known failures print one clear line each and exit 1; nothing else prints a stack. */
async function main(argv: readonly string[]): Promise<number> {
  const [command = 'help', ...rest] = argv;
  switch (command) {
    case 'serve': {
      if (rest.includes('--help')) {
        process.stdout.write('usage: gatehouse serve\n\nRuns Gatehouse. Configuration comes from the environment (see README).\n');
        return 0;
      }
      const config = loadConfig(process.env, { launchedByNpmStart: process.env.npm_lifecycle_event === 'start' });
      await serve(config);
      return -1;
    }
    case 'help':
    case '--help':
      process.stdout.write(`${USAGE}\n`);
      return 0;
    default:
      process.stderr.write(`gatehouse: unknown command "${command}"\n${USAGE}\n`);
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exit(code);
  },
  (error: unknown) => {
    if (error instanceof ConfigError) {
      for (const problem of error.problems) process.stderr.write(`gatehouse: ${problem}\n`);
    } else if (error instanceof GatehouseError) {
      process.stderr.write(`gatehouse: ${error.message}${error.logReason === undefined ? '' : ` (${error.logReason})`}\n`);
    } else {
      process.stderr.write(`gatehouse: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    }
    process.exit(1);
  },
);
