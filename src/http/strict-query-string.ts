/**
 * The query-string parser Gatehouse's server uses. Fastify's default (fast-querystring) keeps a
 * value whose percent-encoding does not decode (`%ff`, `%`, `%C0%AF`) as its raw text, so
 * `?after=a%C0%AF` would be served as if the client had typed those characters, while the same
 * bytes in a path or a body are refused. Hand-rolled because no query-string library refuses: each
 * one either throws from inside the router or replaces what it cannot decode.
 */

/** Marks a parsed query that held something undecodable; registerTextInputCheck refuses it. */
export const UNDECODABLE_QUERY: unique symbol = Symbol('gatehouse.undecodableQuery');

export type ParsedQuery = Record<string, string | string[]> & { [UNDECODABLE_QUERY]?: true };

function decodeComponent(text: string): string | undefined {
  try {
    return decodeURIComponent(text.replaceAll('+', ' '));
  } catch {
    return undefined;
  }
}

/** `a=1&a=2&b` → `{ a: ['1', '2'], b: '' }`, as the default parser; undecodable → marked. */
export function parseStrictQueryString(text: string): ParsedQuery {
  const query: ParsedQuery = Object.create(null) as ParsedQuery;
  for (const pair of text.split('&')) {
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    const name = decodeComponent(eq < 0 ? pair : pair.slice(0, eq));
    const value = decodeComponent(eq < 0 ? '' : pair.slice(eq + 1));
    if (name === undefined || value === undefined) {
      query[UNDECODABLE_QUERY] = true;
      continue;
    }
    const previous = query[name];
    if (previous === undefined) query[name] = value;
    else if (Array.isArray(previous)) previous.push(value);
    else query[name] = [previous, value];
  }
  return query;
}

export function isUndecodableQuery(query: unknown): boolean {
  return typeof query === 'object' && query !== null && (query as ParsedQuery)[UNDECODABLE_QUERY] === true;
}
