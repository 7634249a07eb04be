import { ForbiddenError, InsufficientScopeError } from '../errors/errors.js';
import type { Principal } from './principal.js';

/**
 * What a route demands, declared once in its options. There is no default: a route that declares
 * nothing makes startup fail.
 */
export type RouteRequirement = PublicRequirement | ProtectedRequirement;

export interface PublicRequirement {
  readonly public: true;
}

export interface ProtectedRequirement {
  readonly public?: false;
  /** Scopes the token must carry; `match` says whether all or any of them. */
  readonly scopes?: readonly string[];
  readonly match?: 'all' | 'any';
  /** Roles the user must hold (any of them). */
  readonly roles?: readonly string[];
}

export const PUBLIC: RouteRequirement = Object.freeze({ public: true });
export const AUTHENTICATED: RouteRequirement = Object.freeze({});

export function isPublic(requirement: RouteRequirement): requirement is PublicRequirement {
  return requirement.public === true;
}

/** Step 4 of the guard: may this principal pass? Throws InsufficientScopeError or ForbiddenError. */
export function authorize(principal: Principal, requirement: RouteRequirement): void {
  if (isPublic(requirement)) return;
  const scopes = requirement.scopes ?? [];
  if (scopes.length > 0) {
    const ok = requirement.match === 'any' ? scopes.some((s) => principal.scopes.has(s)) : scopes.every((s) => principal.scopes.has(s));
    if (!ok) throw new InsufficientScopeError(scopes, `missing scope (${requirement.match ?? 'all'} of ${scopes.join(' ')})`);
  }
  const roles = requirement.roles ?? [];
  if (roles.length > 0 && !roles.some((r) => principal.roles.includes(r))) {
    throw new ForbiddenError(`missing role (any of ${roles.join(' ')})`);
  }
}

export function isValidRequirement(value: unknown): value is RouteRequirement {
  if (typeof value !== 'object' || value === null) return false;
  const r = value as Record<string, unknown>;
  if (r.public === true) return Object.keys(r).length === 1;
  const stringArray = (v: unknown) => v === undefined || (Array.isArray(v) && v.every((s) => typeof s === 'string' && s.length > 0));
  return stringArray(r.scopes) && stringArray(r.roles) && (r.match === undefined || r.match === 'all' || r.match === 'any');
}
