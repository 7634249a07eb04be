import { ConfigError, GatehouseError } from '../errors/errors.js';

/**
 * The one line an operator sees when a store cannot be reached at startup: which store, where
 * (host and port only — the URL may carry a password), why, and what to check. A ConfigError so
 * the CLI prints it as a single line and exits 1 instead of a stack or a generic 503 text.
 */
export function unreachableStoreError(store: 'PostgreSQL' | 'Redis', url: string, cause: unknown, variable: string): ConfigError {
  return new ConfigError([
    `${variable}: cannot reach ${store} at ${endpointOf(url, store)} (${reasonOf(cause)}); check that ${store} is running there and the URL is right`,
  ]);
}

/** The same line for Redis through Sentinel: the primary's name and the sentinels asked. */
export function unreachableSentinelError(name: string, sentinels: readonly { readonly host: string; readonly port: number }[], cause: unknown): ConfigError {
  const where = sentinels.map((s) => `${s.host}:${s.port}`).join(', ');
  return new ConfigError([
    `GATEHOUSE_REDIS_SENTINELS: cannot reach the Redis primary "${name}" through the sentinels at ${where} (${reasonOf(cause)}); check that they run, monitor "${name}" (GATEHOUSE_REDIS_SENTINEL_NAME) and that it answers`,
  ]);
}

function endpointOf(url: string, store: 'PostgreSQL' | 'Redis'): string {
  try {
    const { hostname, port } = new URL(url);
    return `${hostname || 'localhost'}:${port || (store === 'Redis' ? '6379' : '5432')}`;
  } catch {
    return '(unparsable URL)';
  }
}

/** The error code (ECONNREFUSED, ETIMEDOUT, …) or first message line; never the URL itself. */
function reasonOf(cause: unknown): string {
  if (!(cause instanceof Error)) return 'no answer';
  // The stores' own errors carry an already redacted reason (the Redis store strips credentials).
  if (cause instanceof GatehouseError && cause.logReason !== undefined) return cause.logReason;
  const code = (cause as Error & { code?: unknown }).code;
  if (typeof code === 'string') return code;
  const first = cause.message.split('\n')[0] ?? '';
  // A driver message could quote the connection string; keep only what cannot carry credentials.
  return /:\/\//.test(first) ? cause.name : first;
}
