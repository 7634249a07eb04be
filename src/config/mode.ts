import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEVELOPMENT_KEY_FILE } from '../keys/development-keys.js';
import { DEVELOPMENT_MARKER } from '../keys/signing-key-file.js';

export type GatehouseEnv = 'development' | 'production';

/**
 * Why the mode has its value; printed in the banner and by `gatehouse doctor` so nobody runs
 * development mode by accident.
 */
export type ModeSource = 'GATEHOUSE_ENV' | 'production settings' | 'development state' | 'npm start' | 'default';

/**
 * Settings only a deployment sets. Any of them without GATEHOUSE_ENV "says production", even beside
 * development state: a real key or a public https issuer is never a laptop's. Anything else (a
 * limit, a log level, a port, a database URL) is as common in development as in production and
 * never decides the mode.
 */
export const PRODUCTION_SIGNALS: readonly { readonly name: string; readonly says: (value: string) => boolean }[] = Object.freeze([
  { name: 'GATEHOUSE_SIGNING_KEYS', says: () => true },
  { name: 'GATEHOUSE_KEY_ENCRYPTION_KEY', says: () => true },
  { name: 'GATEHOUSE_ISSUER', says: (value: string) => value.startsWith('https://') },
]);

/**
 * Whether `dataDir` holds the development key `npm start` made: its presence is what makes a
 * checkout a development one. An unreadable or unmarked file is not development state.
 */
export function developmentStateIn(dataDir: string): boolean {
  try {
    const document = JSON.parse(readFileSync(join(dataDir, DEVELOPMENT_KEY_FILE), 'utf8')) as unknown;
    return typeof document === 'object' && document !== null && (document as Record<string, unknown>)[DEVELOPMENT_MARKER] === true;
  } catch {
    return false;
  }
}

export interface ModeInputs {
  /** GATEHOUSE_ENV as set (already validated by the caller); undefined or '' when unset. */
  readonly explicit: GatehouseEnv | undefined;
  /** Names of the {@link PRODUCTION_SIGNALS} present, in table order. */
  readonly productionSignals: readonly string[];
  readonly developmentState: boolean;
  readonly launchedByNpmStart: boolean;
}

/**
 * The one rule, the same for `serve` and every other command:
 * 1. GATEHOUSE_ENV, when set, wins.
 * 2. Otherwise a production signal (GATEHOUSE_SIGNING_KEYS, GATEHOUSE_KEY_ENCRYPTION_KEY, an https
 *    GATEHOUSE_ISSUER) means production.
 * 3. Otherwise development state in the data directory, or a launch by `npm start`, means development.
 * 4. Otherwise production: a plain CLI in a directory with nothing in it is treated as a deployment.
 */
export function decideMode(inputs: ModeInputs): { readonly env: GatehouseEnv; readonly source: ModeSource } {
  if (inputs.explicit !== undefined) return { env: inputs.explicit, source: 'GATEHOUSE_ENV' };
  if (inputs.productionSignals.length > 0) return { env: 'production', source: 'production settings' };
  if (inputs.developmentState) return { env: 'development', source: 'development state' };
  if (inputs.launchedByNpmStart) return { env: 'development', source: 'npm start' };
  return { env: 'production', source: 'default' };
}

/** One line saying why, for the banner and `gatehouse doctor`. */
export function describeMode(
  env: GatehouseEnv,
  source: ModeSource,
  details: { readonly dataDir: string; readonly productionSignals: readonly string[] },
): string {
  switch (source) {
    case 'GATEHOUSE_ENV':
      return `GATEHOUSE_ENV=${env}`;
    case 'production settings':
      return `GATEHOUSE_ENV unset; ${details.productionSignals.join(', ')} set`;
    case 'development state':
      return `GATEHOUSE_ENV unset; development key in ${join(details.dataDir, DEVELOPMENT_KEY_FILE)}`;
    case 'npm start':
      return 'GATEHOUSE_ENV unset; launched by npm start';
    case 'default':
      return 'GATEHOUSE_ENV unset; no development state, not npm start';
  }
}
