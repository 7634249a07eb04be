import { SigningAlgorithms, type SigningAlgorithm } from '../keys/jwk-validation.js';
import { MIN_RSA_BITS } from '../keys/key-generation.js';
import { KeyManagementError, type KeyActor } from '../keys/key-management.js';
import type { StoredSigningKey } from '../keys/signing-key-store.js';
import type { StoredKeys } from '../keys/stored-keys.js';
import type { GatehouseServices } from '../services.js';
import { CommandError, EXIT, EXIT_CODES_HELP, integerOption, parseCommand, UsageError } from './arguments.js';
import { formatColumns, printUsage, refuseSubcommand, withExitCodes } from './command-output.js';
import { CLI_AUDIT_CONTEXT, withServices, type CliIo } from './cli-services.js';
import { loadConfig, type Config } from '../config/config.js';

/** Key management works on the signing keys themselves: production requires them and their KEK, as for serve. */
const keysConfig = (io: CliIo): Config => loadConfig(io.env, { needs: 'server' });

/** The operator at the command line: `actor_id` null in the audit trail. */
const CLI_KEY_ACTOR: KeyActor = Object.freeze({ userId: null, context: CLI_AUDIT_CONTEXT });

export const KEYS_USAGE = `usage: gatehouse keys <subcommand> …

Stored signing keys (GATEHOUSE_KEY_SOURCE=store). A key is pending (published in the JWKS, not
signing) → active (signing; exactly one) → retiring (published, verifying, not signing) → retired
(gone). A new key signs no sooner than one JWKS cache lifetime (GATEHOUSE_JWKS_MAX_AGE_SECONDS)
after it was published; a retiring key stays published one access-token lifetime (+ 30 s) after
its last signature. Every running instance follows within seconds.

subcommands:
  list [--all] [--json]  the keys and their timeline (--all: retired and revoked too)
  create [--alg A] [--rsa-bits N]
                         a standby pending key (published, not scheduled to sign)
  rotate [<kid>] [--alg A] [--rsa-bits N]
                         a new key (or the pending <kid>) signs after the publish lead; the active
                         key then retires
  retire <kid>           a pending key leaves at once; the active key: use rotate
  revoke <kid> [--replace]
                         compromise: the key leaves at once and tokens it signed stop verifying
                         everywhere; the active key only with --replace (another key signs at once)

--alg is EdDSA (Ed25519, the default), ES256 or RS256 (--rsa-bits ${MIN_RSA_BITS}-8192, default ${MIN_RSA_BITS}).
Each subcommand takes --help. With the embedded database (PGlite on disk) stop the server first.
An unknown <kid> exits 3, like an unknown user.

${EXIT_CODES_HELP}`;

const ALG_OPTIONS = { alg: { type: 'string' }, 'rsa-bits': { type: 'string' } } as const;

function algorithmOptions(values: { alg?: string; 'rsa-bits'?: string }, usage: string): { alg: SigningAlgorithm; rsaBits?: number } {
  const alg = values.alg ?? 'EdDSA';
  if (!(SigningAlgorithms as readonly string[]).includes(alg)) {
    throw new UsageError(`--alg must be one of ${SigningAlgorithms.join(', ')} (symmetric HS256 is not offered: every verifier could mint tokens)`, usage);
  }
  if (values['rsa-bits'] !== undefined && alg !== 'RS256') throw new UsageError('--rsa-bits applies to --alg RS256 only', usage);
  const rsaBits = integerOption(values['rsa-bits'], 'rsa-bits', MIN_RSA_BITS, MIN_RSA_BITS, 8192, usage);
  if (rsaBits % 8 !== 0) throw new UsageError('--rsa-bits must be a multiple of 8', usage);
  return { alg: alg as SigningAlgorithm, ...(alg === 'RS256' ? { rsaBits } : {}) };
}

const iso = (d: Date | null): string | null => d?.toISOString() ?? null;

/** The JSON form of a key: the timeline and the public JWK; never the sealed private part. */
export function keyView(key: StoredSigningKey) {
  return {
    kid: key.kid,
    alg: key.alg,
    state: key.revokedAt === null ? key.state : 'revoked',
    created_at: key.createdAt.toISOString(),
    published_at: key.publishedAt.toISOString(),
    activate_at: iso(key.activateAt),
    activated_at: iso(key.activatedAt),
    retiring_at: iso(key.retiringAt),
    retired_at: iso(key.retiredAt),
    revoked_at: iso(key.revokedAt),
  };
}

/** One line per key, columns aligned: kid, alg, state, and the next or last step. */
export function formatKeyTable(keys: readonly StoredSigningKey[]): string {
  const when = (k: StoredSigningKey): string => {
    if (k.revokedAt !== null) return `revoked ${k.revokedAt.toISOString()}`;
    if (k.state === 'active') return `signing since ${iso(k.activatedAt)}`;
    if (k.state === 'pending') return k.activateAt === null ? `published ${k.publishedAt.toISOString()}, standby` : `signs from ${k.activateAt.toISOString()}`;
    if (k.state === 'retiring') return `last signature ${iso(k.retiringAt)}`;
    return `retired ${iso(k.retiredAt)}`;
  };
  const rows = [['KID', 'ALG', 'STATE', 'WHEN'], ...keys.map((k) => [k.kid, k.alg, k.revokedAt === null ? k.state : 'revoked', when(k)])];
  return formatColumns(rows);
}

/** The stored keys of this deployment, or one line saying why there are none to manage. */
function storedKeysOf(services: GatehouseServices): StoredKeys {
  if (services.storedKeys !== undefined) return services.storedKeys;
  throw new CommandError(
    services.keySource.kind === 'file'
      ? 'signing keys come from GATEHOUSE_SIGNING_KEYS; gatehouse keys manages stored keys (GATEHOUSE_KEY_SOURCE=store): rotate the file by hand'
      : 'signing keys come from the generated development file; set GATEHOUSE_KEY_SOURCE=store to keep them in the store and manage them here',
  );
}

/** Refusals of the lifecycle: one line, exit 1 (3 for an unknown kid, like an unknown user). */
async function managed<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof KeyManagementError) throw new CommandError(error.message, error.code === 'not_found' ? EXIT.NOT_FOUND : EXIT.FAILED);
    throw error;
  }
}

async function list(argv: readonly string[], io: CliIo): Promise<number> {
  const usage = withExitCodes(
    'usage: gatehouse keys list [--all] [--json]\n\nActive first, then pending and retiring keys. --all adds retired and revoked keys; --json prints a JSON array.',
  );
  const parsed = parseCommand(argv, { usage, options: { all: { type: 'boolean' }, json: { type: 'boolean' } }, positionals: [] });
  if (parsed.help) return printUsage(io, usage);
  return withServices(
    io,
    async (services) => {
      const keys = await storedKeysOf(services).management.list(parsed.values.all === true);
      io.stdout.write(parsed.values.json === true ? `${JSON.stringify(keys.map(keyView))}\n` : `${formatKeyTable(keys)}\n`);
      return EXIT.OK;
    },
    keysConfig(io),
  );
}

async function create(argv: readonly string[], io: CliIo): Promise<number> {
  const usage = withExitCodes(
    'usage: gatehouse keys create [--alg EdDSA|ES256|RS256] [--rsa-bits N] [--json]\n\nA pending key, published in the JWKS at once, not scheduled to sign: a standby for gatehouse keys rotate <kid>\nor gatehouse keys revoke --replace. On a store without an active key it signs at once.',
  );
  const parsed = parseCommand(argv, { usage, options: { ...ALG_OPTIONS, json: { type: 'boolean' } }, positionals: [] });
  if (parsed.help) return printUsage(io, usage);
  const alg = algorithmOptions(parsed.values, usage);
  return withServices(
    io,
    async (services) => {
      const key = await managed(() => storedKeysOf(services).management.create(alg, CLI_KEY_ACTOR));
      io.stdout.write(parsed.values.json === true ? `${JSON.stringify(keyView(key))}\n` : `created ${key.kid} ${key.alg} (${key.state})\n`);
      return EXIT.OK;
    },
    keysConfig(io),
  );
}

async function rotate(argv: readonly string[], io: CliIo): Promise<number> {
  const usage = withExitCodes(
    'usage: gatehouse keys rotate [<kid>] [--alg EdDSA|ES256|RS256] [--rsa-bits N] [--json]\n\nSchedules a new key (or the pending <kid>) to sign once it has been published one JWKS cache lifetime;\nthe active key then becomes retiring. Every instance makes the switch by itself; one rotation at a time.',
  );
  const parsed = parseCommand(argv, { usage, options: { ...ALG_OPTIONS, json: { type: 'boolean' } }, positionals: ['kid'], optional: 1 });
  if (parsed.help) return printUsage(io, usage);
  const kid = parsed.positionals[0];
  if (kid !== undefined && (parsed.values.alg !== undefined || parsed.values['rsa-bits'] !== undefined))
    throw new UsageError('--alg and --rsa-bits are for a new key, not with <kid>', usage);
  const alg = algorithmOptions(parsed.values, usage);
  return withServices(
    io,
    async (services) => {
      const key = await managed(() => storedKeysOf(services).management.rotate({ ...alg, ...(kid === undefined ? {} : { kid }) }, CLI_KEY_ACTOR));
      io.stdout.write(
        parsed.values.json === true
          ? `${JSON.stringify(keyView(key))}\n`
          : `rotating to ${key.kid} ${key.alg}: signs from ${iso(key.activateAt) ?? iso(key.activatedAt)}\n`,
      );
      return EXIT.OK;
    },
    keysConfig(io),
  );
}

async function retire(argv: readonly string[], io: CliIo): Promise<number> {
  const usage = withExitCodes(
    'usage: gatehouse keys retire <kid>\n\nA pending key leaves the JWKS at once (it never signed). The active key is refused: rotate instead.\nA retiring key leaves on its schedule (one access-token lifetime after its last signature).',
  );
  const parsed = parseCommand(argv, { usage, options: {}, positionals: ['kid'] });
  if (parsed.help) return printUsage(io, usage);
  const kid = parsed.positionals[0]!;
  return withServices(
    io,
    async (services) => {
      const outcome = await managed(() => storedKeysOf(services).management.retire(kid, CLI_KEY_ACTOR));
      io.stdout.write(outcome === 'retired' ? `retired ${kid}\n` : `${kid} is retiring already; it leaves the JWKS on schedule\n`);
      return EXIT.OK;
    },
    keysConfig(io),
  );
}

async function revoke(argv: readonly string[], io: CliIo): Promise<number> {
  const usage = withExitCodes(
    `usage: gatehouse keys revoke <kid> [--replace [--alg A] [--rsa-bits N]]

For a compromised key: it leaves the JWKS at once and every token it signed stops verifying on every
instance. Revoking the active key needs --replace: the oldest pending key (or a new one of --alg)
signs in the same step, before verifiers' cached JWKS know it — without it nobody could log in.`,
  );
  const parsed = parseCommand(argv, { usage, options: { ...ALG_OPTIONS, replace: { type: 'boolean' } }, positionals: ['kid'] });
  if (parsed.help) return printUsage(io, usage);
  const kid = parsed.positionals[0]!;
  const alg = algorithmOptions(parsed.values, usage);
  return withServices(
    io,
    async (services) => {
      const { replacement } = await managed(() =>
        storedKeysOf(services).management.revoke(kid, { ...alg, replace: parsed.values.replace === true }, CLI_KEY_ACTOR),
      );
      io.stdout.write(`revoked ${kid}${replacement === undefined ? '' : `; ${replacement} signs now`}\n`);
      return EXIT.OK;
    },
    keysConfig(io),
  );
}

/** An RFC 7638 thumbprint (SHA-256, base64url): what every kid of ours is. */
const THUMBPRINT = /^[A-Za-z0-9_-]{43}$/;

/**
 * A thumbprint starts with `-` one time in 64, and parseArgs would read such a kid as a bundle of
 * short options. No option of ours is 43 characters long, so a kid-shaped argument is moved after
 * `--`, where it can only be a positional: a kid pasted from `keys list` always works.
 */
function kidsAsPositionals(argv: readonly string[]): readonly string[] {
  if (argv.includes('--')) return argv;
  const kids = argv.filter((a) => a.startsWith('-') && THUMBPRINT.test(a));
  return kids.length === 0 ? argv : [...argv.filter((a) => !kids.includes(a)), '--', ...kids];
}

/** `gatehouse keys …`: the stored signing keys' lifecycle, through the same use cases the scheduler runs. */
export async function keysCommand(argv: readonly string[], io: CliIo): Promise<number> {
  const [subcommand, ...given] = argv;
  const rest = kidsAsPositionals(given);
  switch (subcommand) {
    case 'list':
      return list(rest, io);
    case 'create':
      return create(rest, io);
    case 'rotate':
      return rotate(rest, io);
    case 'retire':
      return retire(rest, io);
    case 'revoke':
      return revoke(rest, io);
    case '--help':
    case '-h':
    case 'help':
      return printUsage(io, KEYS_USAGE);
    default:
      return refuseSubcommand(subcommand, KEYS_USAGE);
  }
}
