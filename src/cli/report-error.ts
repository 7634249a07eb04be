import { ConfigError, GatehouseError, PasswordPolicyError, ValidationError } from '../errors/errors.js';
import { CommandError, EXIT, UsageError } from './arguments.js';
import type { CliIo } from './cli-services.js';

/**
 * Known failures print one line each (no stack) and map to the documented exit codes; only an
 * unexpected error, a bug, prints its stack.
 */
export function reportError(error: unknown, io: Pick<CliIo, 'stderr'>): number {
  const line = (text: string) => io.stderr.write(`gatehouse: ${text}\n`);
  if (error instanceof UsageError) {
    line(error.message);
    io.stderr.write(`\n${error.usage}\n`);
    return EXIT.USAGE;
  }
  if (error instanceof CommandError) {
    line(error.message);
    return error.exitCode;
  }
  if (error instanceof ConfigError) {
    for (const problem of error.problems) line(problem);
    return EXIT.FAILED;
  }
  if (error instanceof GatehouseError && error.code === 'ERR_NOT_FOUND') {
    line(error.logReason ?? error.message);
    return EXIT.NOT_FOUND;
  }
  if (error instanceof ValidationError) {
    for (const issue of error.issues) line(`${issue.field}: ${issue.message} [${error.code}]`);
    return EXIT.FAILED;
  }
  if (error instanceof PasswordPolicyError) {
    line(`${error.message} [${error.code}]`);
    return EXIT.FAILED;
  }
  if (error instanceof GatehouseError) {
    line(`${error.message}${error.logReason === undefined ? '' : ` (${error.logReason})`} [${error.code}]`);
    return EXIT.FAILED;
  }
  line(error instanceof Error ? (error.stack ?? error.message) : String(error));
  return EXIT.FAILED;
}
