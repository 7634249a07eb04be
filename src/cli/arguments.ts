import { parseArgs, type ParseArgsConfig } from 'node:util';

/**
 * Exit codes every command keeps, so a script can branch on them:
 * 0 done; 1 refused or failed (a rule, a store, a check); 2 the command line itself is wrong;
 * 3 the named user does not exist.
 */
export const EXIT = Object.freeze({ OK: 0, FAILED: 1, USAGE: 2, NOT_FOUND: 3 });

export const EXIT_CODES_HELP = `exit codes:
  0  done
  1  refused or failed (a password or username rule, a store, a failed check); one line on stderr
  2  usage: unknown command or option, missing or extra argument; the usage on stderr
  3  no such user; one line on stderr`;

/** A known failure of a command: one line on stderr (no stack), then `exitCode`. */
export class CommandError extends Error {
  readonly exitCode: number;
  constructor(message: string, exitCode: number = EXIT.FAILED) {
    super(message);
    this.name = 'CommandError';
    this.exitCode = exitCode;
  }
}

/** The command line is wrong: the message and the command's usage go to stderr, exit 2. */
export class UsageError extends Error {
  readonly usage: string;
  constructor(message: string, usage: string) {
    super(message);
    this.name = 'UsageError';
    this.usage = usage;
  }
}

type OptionsConfig = NonNullable<ParseArgsConfig['options']>;

export interface CommandSpec<O extends OptionsConfig> {
  /** The usage text, printed by --help (with the exit codes) and after a usage error. */
  readonly usage: string;
  readonly options: O;
  /** Names of the positional arguments, in order; the last `optional` of them may be left out. */
  readonly positionals: readonly string[];
  readonly optional?: number;
}

export type ParsedCommand<O extends OptionsConfig> =
  | { readonly help: true }
  | {
      readonly help: false;
      readonly values: ReturnType<typeof parseArgs<{ options: O; strict: true; allowPositionals: true }>>['values'];
      readonly positionals: string[];
    };

const CREDENTIAL_OPTION = /^-{1,2}(pass|pw|secret|token)/i;

/** Node's own messages may quote an argument; ours never do, since an argument may be a secret typed in the wrong place. */
function describe(error: unknown): string {
  const code = (error as { code?: unknown }).code;
  const message = error instanceof Error ? error.message : String(error);
  if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
    const name = /'(-[^'=\s]*)/.exec(message)?.[1] ?? 'option';
    const hint = CREDENTIAL_OPTION.test(name)
      ? ' (a password is never read from the command line, where `ps` and the shell history keep it: use --password-stdin or the prompt)'
      : '';
    return `unknown option ${name}${hint}`;
  }
  if (code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') {
    const name = /'(--?[A-Za-z0-9-]+)/.exec(message)?.[1] ?? 'an option';
    return message.includes('does not take') ? `${name} takes no value` : `${name} needs a value`;
  }
  return 'invalid arguments';
}

/**
 * Parses one command's arguments with node:util `parseArgs` (strict): an unknown option, a missing
 * option value or a wrong number of positionals is a UsageError. `--help`/`-h` wins over everything.
 *
 * @example
 * const parsed = parseCommand(argv, { usage: USAGE, options: { json: { type: 'boolean' } }, positionals: [] });
 * if (parsed.help) return printHelp(USAGE);
 */
export function parseCommand<O extends OptionsConfig>(argv: readonly string[], spec: CommandSpec<O>): ParsedCommand<O> {
  if (argv.some((a) => a === '--help' || a === '-h')) return { help: true };
  let parsed;
  try {
    parsed = parseArgs({ args: [...argv], options: spec.options, strict: true, allowPositionals: true });
  } catch (error) {
    throw new UsageError(describe(error), spec.usage);
  }
  const { positionals } = parsed;
  const required = spec.positionals.length - (spec.optional ?? 0);
  if (positionals.length < required) {
    throw new UsageError(
      `missing ${spec.positionals
        .slice(positionals.length, required)
        .map((p) => `<${p}>`)
        .join(' ')}`,
      spec.usage,
    );
  }
  if (positionals.length > spec.positionals.length) throw new UsageError('too many arguments', spec.usage);
  return { help: false, values: parsed.values, positionals };
}

/** A whole number from an option, within bounds, or a UsageError naming the option. */
export function integerOption(value: string | undefined, name: string, fallback: number, min: number, max: number, usage: string): number {
  if (value === undefined) return fallback;
  const n = /^\d{1,9}$/.test(value) ? Number(value) : Number.NaN;
  if (!(n >= min && n <= max)) throw new UsageError(`--${name} must be a whole number from ${min} to ${max}`, usage);
  return n;
}
