import type { AuditRecord } from '../audit/audit-event.js';
import type { MembershipRecord, TenantRecord } from './tenant.js';

export interface NewTenant {
  readonly id: string;
  readonly slug: string;
  readonly name: string;
}

export interface TenantMembership {
  readonly tenant: TenantRecord;
  readonly roles: readonly string[];
}

export type MemberRoleChange = { readonly grant: string } | { readonly revoke: string };

/**
 * Storage contract for tenants and memberships. Writes take the audit rows that record them and
 * write them in their transaction, only if the change happened.
 */
export interface TenantStore {
  /** Rejects with TenantSlugTakenError when the slug is in use (enforced by a unique index). */
  create(tenant: NewTenant, audit?: readonly AuditRecord[]): Promise<TenantRecord>;
  findById(id: string): Promise<TenantRecord | undefined>;
  findBySlug(slug: string): Promise<TenantRecord | undefined>;
  /** Ordered by slug; `after` is the last slug of the previous page. */
  list(query: { readonly limit: number; readonly after?: string }): Promise<TenantRecord[]>;
  /** The login path: every tenant the user belongs to, with the roles held there. */
  membershipsOfUser(userId: string): Promise<TenantMembership[]>;
  membership(tenantId: string, userId: string): Promise<MembershipRecord | undefined>;
  /** Ordered by user id; `after` is the last user id of the previous page. */
  members(tenantId: string, query: { readonly limit: number; readonly after?: string }): Promise<MembershipRecord[]>;
  /** Adds the user to the tenant (no roles) if not yet a member; returns the membership. undefined: no such tenant or user. */
  addMember(tenantId: string, userId: string, audit?: readonly AuditRecord[]): Promise<MembershipRecord | undefined>;
  /** Grants or revokes one role atomically. undefined: not a member. */
  changeMemberRole(tenantId: string, userId: string, change: MemberRoleChange, audit?: readonly AuditRecord[]): Promise<MembershipRecord | undefined>;
  removeMember(tenantId: string, userId: string, audit?: readonly AuditRecord[]): Promise<boolean>;
}
