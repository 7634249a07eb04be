import { and, asc, eq, gt, sql } from 'drizzle-orm';
import { TenantTakenError } from '../../errors/errors.js';
import { isUuid } from '../../ids/uuid.js';
import type { MembershipRecord, TenantRecord } from '../../tenants/tenant.js';
import type { TenantStore } from '../../tenants/tenant-store.js';
import { databaseFailure, isUniqueViolation, runQuery, type Db } from './database.js';
import { insertAudit } from './drizzle-audit-log.js';
import { memberships, tenants, users } from './schema.js';

function toTenant(row: typeof tenants.$inferSelect): TenantRecord {
  return Object.freeze({ id: row.id, slug: row.slug, name: row.name, createdAt: row.createdAt });
}

function toMembership(row: typeof memberships.$inferSelect): MembershipRecord {
  return Object.freeze({ tenantId: row.tenantId, userId: row.userId, roles: Object.freeze([...row.roles]), createdAt: row.createdAt });
}

/** TenantStore over drizzle: the same code on PGlite and PostgreSQL. */
export function createDrizzleTenantStore(db: Db): TenantStore {
  const byIds = (tenantId: string, userId: string) => and(eq(memberships.tenantId, tenantId), eq(memberships.userId, userId));
  return {
    async create(tenant, audit = []) {
      try {
        return await db.transaction(async (tx) => {
          const [row] = await tx.insert(tenants).values(tenant).returning();
          if (row === undefined) throw new Error('insert returned no row');
          await insertAudit(tx, audit);
          return toTenant(row);
        });
      } catch (error) {
        if (isUniqueViolation(error)) throw new TenantTakenError();
        throw databaseFailure(error);
      }
    },

    async findById(id) {
      if (!isUuid(id)) return undefined;
      const [row] = await runQuery(() => db.select().from(tenants).where(eq(tenants.id, id)).limit(1));
      return row === undefined ? undefined : toTenant(row);
    },

    async findBySlug(slug) {
      const [row] = await runQuery(() => db.select().from(tenants).where(eq(tenants.slug, slug)).limit(1));
      return row === undefined ? undefined : toTenant(row);
    },

    list: (query) =>
      runQuery(async () => {
        const rows = await db
          .select()
          .from(tenants)
          .where(query.after === undefined ? undefined : gt(tenants.slug, query.after))
          .orderBy(asc(tenants.slug))
          .limit(query.limit);
        return rows.map(toTenant);
      }),

    membershipsOfUser: (userId) =>
      runQuery(async () => {
        if (!isUuid(userId)) return [];
        const rows = await db
          .select({ tenant: tenants, roles: memberships.roles })
          .from(memberships)
          .innerJoin(tenants, eq(tenants.id, memberships.tenantId))
          .where(eq(memberships.userId, userId))
          .orderBy(asc(tenants.slug));
        return rows.map((r) => Object.freeze({ tenant: toTenant(r.tenant), roles: Object.freeze([...r.roles]) }));
      }),

    membership: (tenantId, userId) =>
      runQuery(async () => {
        if (!isUuid(tenantId) || !isUuid(userId)) return undefined;
        const [row] = await db.select().from(memberships).where(byIds(tenantId, userId)).limit(1);
        return row === undefined ? undefined : toMembership(row);
      }),

    members: (tenantId, query) =>
      runQuery(async () => {
        if (!isUuid(tenantId) || (query.after !== undefined && !isUuid(query.after))) return [];
        const rows = await db
          .select()
          .from(memberships)
          .where(query.after === undefined ? eq(memberships.tenantId, tenantId) : and(eq(memberships.tenantId, tenantId), gt(memberships.userId, query.after)))
          .orderBy(asc(memberships.userId))
          .limit(query.limit);
        return rows.map(toMembership);
      }),

    addMember: (tenantId, userId, audit = []) =>
      runQuery(async () => {
        if (!isUuid(tenantId) || !isUuid(userId)) return undefined;
        return db.transaction(async (tx) => {
          // INSERT … SELECT: an unknown tenant or user inserts nothing instead of raising a foreign-key error.
          const inserted = await tx.execute(sql`
            INSERT INTO ${memberships} (tenant_id, user_id)
            SELECT t.id, u.id FROM ${tenants} t, ${users} u WHERE t.id = ${tenantId} AND u.id = ${userId}
            ON CONFLICT (tenant_id, user_id) DO NOTHING
            RETURNING tenant_id`);
          if ((inserted as unknown as { rows: unknown[] }).rows.length === 1) await insertAudit(tx, audit);
          const [row] = await tx.select().from(memberships).where(byIds(tenantId, userId)).limit(1);
          return row === undefined ? undefined : toMembership(row);
        });
      }),

    changeMemberRole: (tenantId, userId, change, audit = []) =>
      runQuery(async () => {
        if (!isUuid(tenantId) || !isUuid(userId)) return undefined;
        // One statement: concurrent changes of different roles never overwrite each other.
        const roles =
          'grant' in change
            ? sql`CASE WHEN ${change.grant} = ANY(${memberships.roles}) THEN ${memberships.roles} ELSE array_append(${memberships.roles}, ${change.grant}::text) END`
            : sql`array_remove(${memberships.roles}, ${change.revoke}::text)`;
        return db.transaction(async (tx) => {
          const [row] = await tx.update(memberships).set({ roles }).where(byIds(tenantId, userId)).returning();
          if (row === undefined) return undefined;
          await insertAudit(tx, audit);
          return toMembership(row);
        });
      }),

    removeMember: (tenantId, userId, audit = []) =>
      runQuery(async () => {
        if (!isUuid(tenantId) || !isUuid(userId)) return false;
        return db.transaction(async (tx) => {
          const deleted = await tx.delete(memberships).where(byIds(tenantId, userId)).returning({ userId: memberships.userId });
          if (deleted.length === 1) await insertAudit(tx, audit);
          return deleted.length === 1;
        });
      }),
  };
}
