import { ForbiddenError, InsufficientScopeError, StepUpRequiredError } from '../errors/errors.js';
import { checkAuthenticationRequirement, refusalOf, type AuthenticationRequirement } from '@gatehouse/verify/internal';
import type { Policy } from './policy.js';
import type { Principal } from './principal.js';
import { DEFAULT_SCHEMES, isSchemeName, type SchemeName } from './scheme-name.js';

/**
 * What a route demands, declared once in its options. There is no default: a route that declares
 * nothing makes startup fail.
 */
export type RouteRequirement = PublicRequirement | ProtectedRequirement | SecretRequirement;

export interface PublicRequirement {
  readonly public: true;
}

/** The machine credentials a route can require instead of a user's access token. */
export const SECRET_SCHEMES = ['revocation-feed'] as const;
export type SecretScheme = (typeof SECRET_SCHEMES)[number];

/**
 * A machine credential, not a user: `Authorization: Bearer <one of the configured secrets>` (see
 * guard/shared-secret.ts). No principal results; a route whose scheme has no secret configured
 * answers 404, as if it did not exist.
 */
export interface SecretRequirement {
  readonly secret: SecretScheme;
}

export interface ProtectedRequirement {
  readonly public?: false;
  /**
   * The credential schemes the route accepts (default: `['bearer']`). Authorization is the same
   * whichever one authenticated the caller; see guard/credential-scheme.ts.
   */
  readonly schemes?: readonly SchemeName[];
  /**
   * A server-rendered page: a caller without a valid credential is sent to the sign-in page
   * (303 to `/login?return_to=…`) instead of getting a 401.
   */
  readonly page?: boolean;
  /** Scopes the token must carry; `match` says whether all or any of them. */
  readonly scopes?: readonly string[];
  readonly match?: 'all' | 'any';
  /** Roles the user must hold (any of them). */
  readonly roles?: readonly string[];
  /** The token must act in a tenant (`tid`): tenant-scoped routes refuse a token bound to none. */
  readonly tenant?: boolean;
  /**
   * Decide on the user, roles and membership as the database holds them now, not as the token
   * states them: a role removed a moment ago counts here even before the revocation has spread.
   */
  readonly fresh?: boolean;
  /** Load the resource the route acts on and let a named policy decide (ownership, tenant boundary). */
  readonly resource?: ResourceRule;
  /**
   * Step-up (RFC 9470): the user must have authenticated at this level (`aal: 2`: two factors), at
   * most `maxAge` seconds ago (`auth_time`; a refresh never moves it). Otherwise 401
   * `insufficient_user_authentication` naming what would do; a page redirects to the second-factor
   * prompt. API keys and other credentials with no user authentication never satisfy it.
   */
  readonly authentication?: AuthenticationRequirement;
  /**
   * The route changes how the user authenticates (a factor added or removed, recovery codes
   * regenerated, the email address changed): the guard asks for a recent sign-in, with two factors
   * once the user has a second one (guard/factor-change.ts). Decided per request, since it depends
   * on the user's factors; not combined with an explicit `authentication`.
   */
  readonly factorChange?: boolean;
}

/**
 * The policy a route applies to the resource it acts on. `load` receives the HTTP layer's request
 * (after validation) and resolves to the resource, or undefined when there is none (404).
 */
export interface ResourceRule<R = unknown> {
  readonly policy: Policy<R>;
  load(request: unknown): Promise<R | undefined>;
}

export const PUBLIC: RouteRequirement = Object.freeze({ public: true });
export const AUTHENTICATED: RouteRequirement = Object.freeze({});

export function isPublic(requirement: RouteRequirement): requirement is PublicRequirement {
  return 'public' in requirement && requirement.public === true;
}

export function isSecret(requirement: RouteRequirement): requirement is SecretRequirement {
  return 'secret' in requirement;
}

/**
 * Step 4 of the guard: may this principal pass, at `nowSeconds`? The decision is the SDK's
 * `refusalOf`, so a resource server's adapter and Gatehouse decide a requirement alike. Throws
 * InsufficientScopeError, StepUpRequiredError or ForbiddenError.
 */
export function authorize(principal: Principal, requirement: RouteRequirement, nowSeconds: number): void {
  if (isPublic(requirement)) return;
  // A user's token never stands in for a machine secret.
  if (isSecret(requirement)) throw new ForbiddenError(`route requires the ${requirement.secret} secret, not a user`);
  const refusal = refusalOf(principal, requirement, nowSeconds);
  if (refusal?.kind === 'scope') throw new InsufficientScopeError(refusal.scopes, refusal.reason);
  if (refusal?.kind === 'authentication') throw new StepUpRequiredError(refusal.requirement, refusal.reason);
  if (refusal !== undefined) throw new ForbiddenError(refusal.reason);
}

export function isValidRequirement(value: unknown): value is RouteRequirement {
  if (typeof value !== 'object' || value === null) return false;
  const r = value as Record<string, unknown>;
  if (r.public === true) return Object.keys(r).length === 1;
  if ('secret' in r) return Object.keys(r).length === 1 && (SECRET_SCHEMES as readonly unknown[]).includes(r.secret);
  const stringArray = (v: unknown) => v === undefined || (Array.isArray(v) && v.every((s) => typeof s === 'string' && s.length > 0));
  const flag = (v: unknown) => v === undefined || typeof v === 'boolean';
  const known = ['public', 'schemes', 'page', 'scopes', 'match', 'roles', 'tenant', 'fresh', 'resource', 'authentication', 'factorChange'];
  return (
    Object.keys(r).every((k) => known.includes(k)) &&
    (r.schemes === undefined || isSchemeList(r.schemes)) &&
    flag(r.page) &&
    stringArray(r.scopes) &&
    stringArray(r.roles) &&
    (r.match === undefined || r.match === 'all' || r.match === 'any') &&
    flag(r.tenant) &&
    flag(r.fresh) &&
    (r.resource === undefined || isResourceRule(r.resource)) &&
    (r.authentication === undefined || isAuthenticationRequirement(r.authentication)) &&
    flag(r.factorChange) &&
    !(r.factorChange === true && r.authentication !== undefined)
  );
}

function isAuthenticationRequirement(value: unknown): boolean {
  try {
    checkAuthenticationRequirement(value);
    return true;
  } catch {
    return false;
  }
}

function isSchemeList(value: unknown): boolean {
  return Array.isArray(value) && value.length > 0 && value.every(isSchemeName) && new Set(value).size === value.length;
}

/** The schemes a protected route accepts, its declaration or the default. */
export function schemesOf(requirement: ProtectedRequirement): readonly SchemeName[] {
  return requirement.schemes ?? DEFAULT_SCHEMES;
}

function isResourceRule(value: unknown): boolean {
  if (typeof value !== 'object' || value === null) return false;
  const { policy, load } = value as { policy?: { name?: unknown; allows?: unknown }; load?: unknown };
  return typeof load === 'function' && typeof policy?.name === 'string' && typeof policy.allows === 'function';
}

/** One line a person reads: `authenticated; via bearer session; scopes all(a b); roles any(r); tenant; policy p; fresh`. */
export function describeRequirement(requirement: RouteRequirement | undefined): string {
  if (requirement === undefined) return 'NONE DECLARED';
  if (isPublic(requirement)) return 'public';
  if (isSecret(requirement)) return `secret ${requirement.secret}`;
  const parts: string[] = [];
  // The default (bearer only) is left unsaid, so the lines of routes from before schemes read as they did.
  if (requirement.schemes !== undefined && requirement.schemes.join() !== DEFAULT_SCHEMES.join()) parts.push(`via ${requirement.schemes.join(' ')}`);
  if (requirement.page === true) parts.push('page');
  const scopes = requirement.scopes ?? [];
  if (scopes.length > 0) parts.push(`scopes ${requirement.match ?? 'all'}(${scopes.join(' ')})`);
  if ((requirement.roles ?? []).length > 0) parts.push(`roles any(${requirement.roles!.join(' ')})`);
  if (requirement.tenant === true) parts.push('tenant');
  if (requirement.resource !== undefined) parts.push(`policy ${requirement.resource.policy.name}`);
  if (requirement.fresh === true) parts.push('fresh');
  const authentication = requirement.authentication;
  if (authentication !== undefined) parts.push(`aal${authentication.aal}${authentication.maxAge === undefined ? '' : ` within ${authentication.maxAge}s`}`);
  if (requirement.factorChange === true) parts.push('factor change');
  return parts.length === 0 ? 'authenticated' : `authenticated; ${parts.join('; ')}`;
}
