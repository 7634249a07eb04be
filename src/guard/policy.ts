import { ForbiddenError } from '../errors/errors.js';
import type { Principal } from './principal.js';

/**
 * A named, pure decision about one principal and one loaded resource (ownership, tenant
 * boundary…). Routes name the policy that applies in their requirement; the guard loads the
 * resource and asks. No HTTP, no store access: everything the decision needs is in its arguments.
 */
export interface Policy<R> {
  readonly name: string;
  allows(principal: Principal, resource: R): boolean;
}

export function definePolicy<R>(name: string, allows: (principal: Principal, resource: R) => boolean): Policy<R> {
  return Object.freeze({ name, allows });
}

/** Every policy must allow (e.g. same tenant AND owner). */
export function allOf<R>(name: string, ...policies: readonly Policy<R>[]): Policy<R> {
  return definePolicy(name, (principal, resource) => policies.every((p) => p.allows(principal, resource)));
}

/** One policy allowing is enough (e.g. owner OR manager). */
export function anyOf<R>(name: string, ...policies: readonly Policy<R>[]): Policy<R> {
  return definePolicy(name, (principal, resource) => policies.some((p) => p.allows(principal, resource)));
}

/** Throws ForbiddenError naming the policy in the log (never to the client). */
export function enforcePolicy<R>(policy: Policy<R>, principal: Principal, resource: R): void {
  if (!policy.allows(principal, resource)) throw new ForbiddenError(`policy ${policy.name} denied`);
}
