import { EXIT, EXIT_CODES_HELP, UsageError } from './arguments.js';
import type { CliIo } from './cli-services.js';

/** A subcommand's usage, followed by the exit codes every command shares. */
export function withExitCodes(usage: string): string {
  return `${usage}\n\n${EXIT_CODES_HELP}`;
}

/** `--help`: the usage on stdout, exit 0. */
export function printUsage(io: CliIo, usage: string): number {
  io.stdout.write(`${usage}\n`);
  return EXIT.OK;
}

/** Rows as aligned columns (two spaces apart); the last column is not padded. */
export function formatColumns(rows: readonly (readonly string[])[]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  ')).join('\n');
}

/** The end of every subcommand switch: a missing or unknown subcommand is a usage error (exit 2). */
export function refuseSubcommand(subcommand: string | undefined, usage: string): never {
  if (subcommand === undefined) throw new UsageError('missing <subcommand>', usage);
  throw new UsageError(subcommand.startsWith('-') ? `unknown option ${subcommand.split('=')[0]}` : `unknown subcommand ${JSON.stringify(subcommand)}`, usage);
}
