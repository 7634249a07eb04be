import {
  checkAuthenticationRequirement,
  stepUpChallengeParameters,
  stepUpRefusal,
  type Authentication,
  type AuthenticationRequirement,
} from './authentication.js';
import { readBearerCredential, type CredentialSource } from './bearer-credential.js';
import { VerificationError } from './errors.js';
import type { Principal } from './principal.js';
import type { Verifier } from './verifier.js';

/**
 * What a route demands, declared once: the same semantics as the server's guard
 * (src/guard/requirement.ts): scopes all (default) or any, roles any-of, plus `tenant: true` for
 * routes that need a tenant-bound token.
 */
export interface Checks {
  readonly scopes?: readonly string[];
  readonly match?: 'all' | 'any';
  /** The principal must hold at least one of these roles. */
  readonly roles?: readonly string[];
  /** The token must be bound to a tenant (`tid`). */
  readonly tenant?: true;
  /**
   * RFC 9470 step-up: the user must have authenticated at this level (2: two factors), at most
   * `maxAge` seconds ago. Refused with 401 `insufficient_user_authentication`.
   */
  readonly authentication?: AuthenticationRequirement;
}

export interface ProblemBody {
  readonly type: string;
  readonly title: string;
  readonly status: number;
  readonly code: string;
  readonly detail: string;
  readonly required_scopes?: readonly string[];
}

/** What an adapter does with a request: let it through with a principal, or answer with this. */
export type Outcome =
  | { readonly ok: true; readonly principal: Principal }
  | {
      readonly ok: false;
      readonly status: 400 | 401 | 403 | 503;
      readonly headers: Readonly<Record<string, string>>;
      readonly body: ProblemBody;
      readonly logReason: string;
    };

export interface AdapterOptions {
  /** RFC 6750 §3 realm of the challenge (default "api"). */
  readonly realm?: string;
}

/** What the checks look at: the SDK's principal and the server's both have this shape. */
export interface CheckedPrincipal {
  readonly scopes: ReadonlySet<string>;
  readonly roles: readonly string[];
  readonly tenantId?: string | undefined;
  readonly authentication?: Authentication | undefined;
}

/**
 * What `refusalOf` decides on: an adapter's `Checks`, or the server's route requirement (whose
 * `tenant` may also be `false`), taken as is so the per-request path allocates nothing.
 */
export interface CheckedRequirement {
  readonly scopes?: readonly string[] | undefined;
  readonly match?: 'all' | 'any' | undefined;
  readonly roles?: readonly string[] | undefined;
  readonly tenant?: boolean | undefined;
  readonly authentication?: AuthenticationRequirement | undefined;
}

/** Which check refuses the principal, and why (for the log); undefined when all pass. */
export type Refusal =
  | { readonly kind: 'scope'; readonly scopes: readonly string[]; readonly reason: string }
  | { readonly kind: 'role' | 'tenant'; readonly reason: string }
  | { readonly kind: 'authentication'; readonly requirement: AuthenticationRequirement; readonly reason: string };

/**
 * The declarative checks, decided once for the server's guard and every adapter: scopes all (or
 * any) → roles any-of → tenant → authentication (level and age, at `nowSeconds`). Pure; each
 * caller turns a refusal into its own response. The authentication comes last: stepping up cannot
 * grant a missing scope, so a caller refused for both is told the one that is final.
 */
export function refusalOf(principal: CheckedPrincipal, checks: CheckedRequirement, nowSeconds: number = Math.floor(Date.now() / 1000)): Refusal | undefined {
  const scopes = checks.scopes ?? [];
  if (scopes.length > 0) {
    const ok = checks.match === 'any' ? scopes.some((s) => principal.scopes.has(s)) : scopes.every((s) => principal.scopes.has(s));
    if (!ok) return { kind: 'scope', scopes, reason: `missing scope (${checks.match ?? 'all'} of ${scopes.join(' ')})` };
  }
  const roles = checks.roles ?? [];
  if (roles.length > 0 && !roles.some((r) => principal.roles.includes(r))) return { kind: 'role', reason: `missing role (any of ${roles.join(' ')})` };
  if (checks.tenant === true && principal.tenantId === undefined) return { kind: 'tenant', reason: 'token acts in no tenant' };
  if (checks.authentication !== undefined) {
    const reason = stepUpRefusal(principal.authentication, checks.authentication, nowSeconds);
    if (reason !== undefined) return { kind: 'authentication', requirement: checks.authentication, reason };
  }
  return undefined;
}

/** Caller mistakes in a declaration fail at startup, not on the first request. */
export function compileChecks(checks: Checks = {}): Checks {
  const list = (name: string, v: unknown): void => {
    if (v !== undefined && !(Array.isArray(v) && v.every((s) => typeof s === 'string' && s.length > 0 && !/[\s"\\]/.test(s)))) {
      throw new TypeError(`${name} must be a list of non-empty names without spaces or quotes`);
    }
  };
  list('scopes', checks.scopes);
  list('roles', checks.roles);
  if (checks.match !== undefined && checks.match !== 'all' && checks.match !== 'any') throw new TypeError('match must be "all" or "any"');
  if (checks.tenant !== undefined && checks.tenant !== true) throw new TypeError('tenant must be true or absent');
  if (checks.authentication !== undefined) return Object.freeze({ ...checks, authentication: checkAuthenticationRequirement(checks.authentication) });
  return Object.freeze({ ...checks });
}

/**
 * The whole adapter logic, framework-free: RFC 6750 bearer extraction (the server's reader: a
 * query-string token or two Authorization headers are refused) → verification → checks.
 * 401 with a `WWW-Authenticate: Bearer` challenge for a missing or invalid token, 403
 * `insufficient_scope` for scopes, 403 problem+json for roles and tenant, 503 while the issuer's
 * keys cannot be obtained or the revocation state is stale. Bodies are RFC 9457 problem details, as the server writes them.
 */
export async function authenticate(verifier: Verifier, source: CredentialSource, checks: Checks, options: AdapterOptions = {}): Promise<Outcome> {
  const realm = `Bearer realm="${options.realm ?? 'api'}"`;
  const credential = readBearerCredential(source);
  if (credential.kind === 'none') {
    return refuse(401, 'ERR_NO_CREDENTIAL', 'Authentication required', 'authentication required', { 'www-authenticate': realm }, 'no bearer credential');
  }
  if (credential.kind === 'malformed') {
    return refuse(
      400,
      'ERR_MALFORMED_CREDENTIAL',
      'Malformed credential',
      'malformed credential',
      { 'www-authenticate': `${realm}, error="invalid_request"` },
      credential.reason,
    );
  }
  let principal: Principal;
  try {
    principal = await verifier.verify(credential.token);
  } catch (error) {
    if (!(error instanceof VerificationError)) throw error;
    if (error.code === 'ERR_KEYS_UNAVAILABLE' || error.code === 'ERR_REVOCATIONS_STALE') {
      return refuse(503, error.code, 'Service unavailable', error.message, { 'retry-after': '5' }, error.logReason);
    }
    return refuse(401, 'ERR_INVALID_TOKEN', 'Invalid token', 'invalid token', { 'www-authenticate': `${realm}, error="invalid_token"` }, error.logReason);
  }
  const refusal = refusalOf(principal, checks);
  if (refusal?.kind === 'scope') {
    const outcome = refuse(
      403,
      'ERR_INSUFFICIENT_SCOPE',
      'Insufficient scope',
      'insufficient scope',
      { 'www-authenticate': `${realm}, error="insufficient_scope", scope="${refusal.scopes.join(' ')}"` },
      refusal.reason,
    );
    return { ...outcome, body: { ...outcome.body, required_scopes: refusal.scopes } };
  }
  if (refusal?.kind === 'authentication') {
    return refuse(
      401,
      'ERR_STEP_UP_REQUIRED',
      'Stronger or more recent authentication required',
      'stronger or more recent authentication required',
      { 'www-authenticate': `${realm}, error="insufficient_user_authentication", ${stepUpChallengeParameters(refusal.requirement)}` },
      refusal.reason,
    );
  }
  if (refusal !== undefined) return refuse(403, 'ERR_FORBIDDEN', 'Forbidden', 'forbidden', {}, refusal.reason);
  return { ok: true, principal };
}

function refuse(
  status: 400 | 401 | 403 | 503,
  code: string,
  title: string,
  detail: string,
  headers: Record<string, string>,
  logReason: string,
): Outcome & { ok: false } {
  return { ok: false, status, headers, logReason, body: { type: `urn:gatehouse:error:${code}`, title, status, code, detail } };
}
