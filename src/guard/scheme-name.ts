/**
 * The credential schemes a route can accept, in the order the guard tries them: an explicit
 * `Authorization` header wins over a cookie, and so does a WebSocket ticket (`?ticket=`, read
 * only on the routes that accept it: src/sockets). API keys join this list.
 */
export const SCHEME_NAMES = ['bearer', 'api_key', 'ticket', 'session'] as const;
export type SchemeName = (typeof SCHEME_NAMES)[number];

/** What a route accepts when it names no schemes: a bearer access token, as before schemes existed. */
export const DEFAULT_SCHEMES: readonly SchemeName[] = Object.freeze(['bearer']);

export function isSchemeName(value: unknown): value is SchemeName {
  return (SCHEME_NAMES as readonly unknown[]).includes(value);
}
