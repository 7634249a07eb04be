import { definePolicy, type Policy } from './policy.js';

/** A resource that belongs to one user. */
export interface UserOwned {
  readonly ownerId: string;
}

/** Ownership: the caller is the resource's owner. */
export const ownedByCaller = definePolicy<UserOwned>('owned-by-caller', (principal, resource) => principal.subject === resource.ownerId);

/** The caller holds the role (as the token states it, or freshly read on a `fresh` route). */
export function holdsRole(role: string): Policy<unknown> {
  return definePolicy(`holds-role:${role}`, (principal) => principal.roles.includes(role));
}
