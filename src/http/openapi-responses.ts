import { z } from 'zod';
import { isPublic, isSecret, type RouteRequirement } from '../guard/requirement.js';
import type { ErrorStyle } from './fastify-augment.js';
import { oauthErrorSchema, problemSchema } from './routes/problem-schema.js';

/**
 * The statuses an operation can answer, derived in one place from what the route declares (its
 * requirement, error style, body, own statuses) rather than listed by hand on each route, so the
 * OpenAPI document cannot forget a status a layer in front of the handler adds: the per-address
 * ceiling (429) and an unavailable store (503) on every route, the guard's 401/403, the body
 * parsers' 413/415, text that is not well-formed (400) in any path, query or header.
 */
export interface OperationFacts {
  readonly requirement: RouteRequirement | undefined;
  readonly errorStyle: ErrorStyle;
  /** The route can receive a body (any method but GET/HEAD): a declared one, or one it refuses. */
  readonly takesBody: boolean;
  /** The path has parameters, which the router refuses past 100 characters (414). */
  readonly hasPathParams: boolean;
}

type Json = Record<string, unknown>;

// Inline rather than $ref'd: a client reading one operation sees the error shape without resolving.
const jsonSchemaOf = (schema: z.ZodType): Json => {
  const { $schema: _dialect, ...rest } = z.toJSONSchema(schema, { io: 'output' }) as Json;
  return rest;
};
const PROBLEM_SCHEMA = jsonSchemaOf(problemSchema);
const OAUTH_ERROR_SCHEMA = jsonSchemaOf(oauthErrorSchema);

/** Headers the responses refer to; merged into the document's `components`. */
export function errorComponents(): { headers: Json } {
  return {
    headers: {
      'Retry-After': { description: 'Seconds to wait before retrying (RFC 9110 §10.2.3).', schema: { type: 'integer', minimum: 0 } },
      'WWW-Authenticate': { description: 'The authentication challenge (RFC 6750 §3 for Bearer, RFC 7617 for Basic).', schema: { type: 'string' } },
      'X-Request-Id': { description: "This request's id; equals the problem's request_id.", schema: { type: 'string', format: 'uuid' } },
    },
  };
}

const DESCRIPTIONS: Readonly<Record<string, string>> = {
  '200': 'Success.',
  '201': 'Created.',
  '204': 'Done; no body.',
  '400': 'Invalid input: a field, parameter, body or header that does not have the expected shape or is not well-formed text.',
  '401': 'No credential, or one that is invalid, expired or revoked.',
  '403': 'Authenticated, but not allowed: a missing scope or role, another tenant, or a policy refusal.',
  '404': "No such route or resource, or one that is not the caller's.",
  '409': 'Conflicts with the current state (a name taken, a concurrent change).',
  '414': 'A path parameter is longer than 100 characters.',
  '417': 'An Expect header other than 100-continue.',
  '431': 'The request headers are too large.',
  '413': 'The body is larger than GATEHOUSE_BODY_LIMIT.',
  '415': "The body's content type is not accepted here.",
  '429': 'Too many requests (from this address, for this account or this session); wait Retry-After seconds.',
  '503': 'A store did not answer in time (with Retry-After: wait that many seconds), or this instance is shutting down (retry at once, on another instance).',
};

/** The error statuses of one operation, from its facts (the route's own statuses are added by the caller). */
export function derivedErrorStatuses(facts: OperationFacts): string[] {
  // Answered before routing reaches the handler, on any operation: a path variant that is no route
  // (404), an Expect other than 100-continue (417), headers too large (431).
  const out = new Set(['400', '404', '417', '429', '431', '503']);
  if (facts.hasPathParams) out.add('414');
  const requirement = facts.requirement;
  if (requirement !== undefined && !isPublic(requirement)) {
    out.add('401');
    // A user's token on a machine-secret route is refused (403); so is a missing scope, role, tenant or policy.
    if (isSecret(requirement)) out.add('403');
    else if ((requirement.scopes?.length ?? 0) > 0 || (requirement.roles?.length ?? 0) > 0 || requirement.tenant === true || requirement.resource !== undefined)
      out.add('403');
  }
  // The OAuth endpoints authenticate clients (RFC 6749 §2.3): invalid_client is a 401.
  if (facts.errorStyle === 'oauth') out.add('401');
  if (facts.takesBody) out.add('413').add('415');
  return [...out];
}

function challengeOf(facts: OperationFacts, status: string): string | undefined {
  if (status === '401')
    return facts.errorStyle === 'oauth'
      ? 'Basic realm="gatehouse" (a refused client credential)'
      : 'Bearer realm="gatehouse" with error= when a token was presented';
  if (status === '403' && facts.requirement !== undefined && !isPublic(facts.requirement) && !isSecret(facts.requirement))
    return 'Bearer error="insufficient_scope" with the required scope, when a scope is missing';
  return undefined;
}

/**
 * The operation's `responses`, complete: every status it can answer with a real description,
 * errors typed `application/problem+json` (or `application/json` with `error` at the OAuth
 * endpoints) with their headers. `declared` are the route's own responses as the generator wrote them.
 */
export function completeResponses(declared: Readonly<Record<string, Json>>, facts: OperationFacts): Record<string, Json> {
  const statuses = new Set([...Object.keys(declared), ...derivedErrorStatuses(facts)]);
  const out: Record<string, Json> = {};
  for (const status of [...statuses].sort()) {
    const own = declared[status] ?? {};
    const description =
      typeof own.description === 'string' && own.description !== 'Default Response' ? own.description : (DESCRIPTIONS[status] ?? `HTTP ${status}.`);
    if (!/^[45]/.test(status)) {
      out[status] = { ...own, description };
      continue;
    }
    const oauth = facts.errorStyle === 'oauth';
    const headers: Json = { 'X-Request-Id': { $ref: '#/components/headers/X-Request-Id' } };
    if (status === '429' || status === '503') headers['Retry-After'] = { $ref: '#/components/headers/Retry-After' };
    const challenge = challengeOf(facts, status);
    if (challenge !== undefined) headers['WWW-Authenticate'] = { description: challenge, schema: { type: 'string' } };
    out[status] = {
      description,
      headers,
      content: oauth ? { 'application/json': { schema: OAUTH_ERROR_SCHEMA } } : { 'application/problem+json': { schema: PROBLEM_SCHEMA } },
    };
  }
  return out;
}
