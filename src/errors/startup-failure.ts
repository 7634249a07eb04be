import { ConfigError, GatehouseError } from './errors.js';

/**
 * One line for the operator when an app mounting Gatehouse fails to start for a known reason (a
 * configuration problem, a store that does not answer, a port in use), or undefined for anything
 * else: that is a bug, and its stack is worth printing. Never quotes a setting's value (the
 * configuration errors do not).
 */
export function startupFailureLine(error: unknown): string | undefined {
  const nodeError = error as NodeJS.ErrnoException & { address?: string; port?: number };
  if (nodeError?.code === 'EADDRINUSE') {
    const where = nodeError.address === undefined ? 'the port' : `${nodeError.address}:${nodeError.port ?? ''}`;
    return `${where} is already in use; set PORT to a free port`;
  }
  if (error instanceof ConfigError) return `invalid configuration: ${error.problems.join('; ')}`;
  if (error instanceof GatehouseError) return `${error.message}${error.logReason === undefined ? '' : ` (${error.logReason})`}`;
  return undefined;
}
