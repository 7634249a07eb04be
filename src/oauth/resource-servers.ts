import { SCOPE_TOKEN, type ScopeCatalogue } from './scope-catalogue.js';

/**
 * A resource server registered with Gatehouse (RFC 8707): a service that accepts only tokens
 * naming its identifier in `aud`, and the scopes that mean something there.
 */
export interface ResourceServer {
  /** RFC 8707 §2: an absolute URI without a fragment; the `resource` parameter and `aud` verbatim. */
  readonly identifier: string;
  /** The scopes this resource defines; a token for it carries no other. Each must be in the scope catalogue. */
  readonly scopes: readonly string[];
  readonly description?: string;
}

export interface ResourceRegistry {
  /** The registered resources, in registration order (empty: every token has the default audience). */
  readonly all: readonly ResourceServer[];
  /** Exact string match: no normalisation, so `https://a.example` and `https://a.example/` are two identifiers. */
  find(identifier: string): ResourceServer | undefined;
}

const MAX_IDENTIFIER_LENGTH = 512;
/** RFC 3986 §2: unreserved, reserved and `%`; anything else (spaces, controls, non-ASCII) is not a URI. */
const URI_CHARACTERS = /^[A-Za-z0-9\-._~:/?#[\]@!$&'()*+,;=%]+$/;
/** RFC 3986 §3.1 scheme, then the rest of an absolute-URI (§4.3). */
const ABSOLUTE_URI = /^[A-Za-z][A-Za-z0-9+.-]*:.+$/;

/**
 * Why `value` cannot identify a resource (RFC 8707 §2), or undefined if it can. The grammar is
 * checked here because WHATWG `URL` (which node-oidc-provider relies on alone) forgives spaces and
 * backslashes that RFC 3986 does not; `URL` then confirms it parses.
 */
export function resourceIdentifierProblem(value: unknown): string | undefined {
  if (typeof value !== 'string' || value.length === 0) return 'must be a non-empty string';
  if (value.length > MAX_IDENTIFIER_LENGTH) return `must be at most ${MAX_IDENTIFIER_LENGTH} characters`;
  if (value.includes('#')) return 'must not have a fragment (RFC 8707 §2)';
  if (!URI_CHARACTERS.test(value) || /%(?![0-9A-Fa-f]{2})/.test(value) || !ABSOLUTE_URI.test(value) || !URL.canParse(value)) {
    return 'must be an absolute URI (RFC 3986 §4.3)';
  }
  return undefined;
}

/**
 * Every problem with a list of resource definitions, one line each, naming the entry. The scopes
 * must exist, and no identifier may be one of Gatehouse's own audiences: a token for that
 * resource would open Gatehouse's own API too.
 */
export function resourceProblems(definitions: readonly unknown[], scopes: ScopeCatalogue, ownAudience: readonly string[]): string[] {
  const problems: string[] = [];
  const seen = new Set<string>();
  definitions.forEach((definition, i) => {
    const at = `resources[${i}]`;
    if (typeof definition !== 'object' || definition === null || Array.isArray(definition)) {
      problems.push(`${at}: must be an object {"identifier", "scopes", "description"?}`);
      return;
    }
    const { identifier, scopes: listed, description, ...rest } = definition as Record<string, unknown>;
    for (const unknown of Object.keys(rest)) problems.push(`${at}: unknown field ${JSON.stringify(unknown)}`);
    const idProblem = resourceIdentifierProblem(identifier);
    if (idProblem !== undefined) problems.push(`${at}.identifier: ${idProblem}`);
    else if (seen.has(identifier as string)) problems.push(`${at}.identifier: ${JSON.stringify(identifier)} is registered twice`);
    else if (ownAudience.includes(identifier as string))
      problems.push(`${at}.identifier: ${JSON.stringify(identifier)} is Gatehouse's own audience (GATEHOUSE_AUDIENCE)`);
    if (typeof identifier === 'string') seen.add(identifier);
    if (!Array.isArray(listed) || listed.length === 0) problems.push(`${at}.scopes: must be a non-empty list of scopes`);
    else {
      for (const scope of listed) {
        if (typeof scope !== 'string' || !SCOPE_TOKEN.test(scope)) problems.push(`${at}.scopes: ${JSON.stringify(scope)} is not a scope token`);
        else if (!scopes.supported.includes(scope)) problems.push(`${at}.scopes: ${JSON.stringify(scope)} is not a known scope`);
      }
    }
    if (description !== undefined && (typeof description !== 'string' || description.length > 200))
      problems.push(`${at}.description: must be a string of at most 200 characters`);
  });
  return problems;
}

/**
 * The registry of resource servers. Definitions are validated by {@link resourceProblems};
 * a problem is a caller mistake here (TypeError), listing every problem.
 *
 * @example
 * const resources = createResourceRegistry([{ identifier: 'https://orders.example.com/', scopes: ['orders:read'] }], scopes, config.audience);
 * resources.find('https://orders.example.com/')?.scopes; // ['orders:read']
 */
export function createResourceRegistry(definitions: readonly ResourceServer[], scopes: ScopeCatalogue, ownAudience: readonly string[]): ResourceRegistry {
  const problems = resourceProblems(definitions, scopes, ownAudience);
  if (problems.length > 0) throw new TypeError(`invalid resource servers:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  const all = Object.freeze(definitions.map((d) => Object.freeze({ ...d, scopes: Object.freeze([...new Set(d.scopes)]) })));
  const byIdentifier = new Map(all.map((r) => [r.identifier, r]));
  return Object.freeze({ all, find: (identifier: string) => byIdentifier.get(identifier) });
}
