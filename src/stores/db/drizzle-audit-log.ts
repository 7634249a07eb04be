import { and, desc, eq, gte, lt, type SQL } from 'drizzle-orm';
import type { AuditLog, AuditRecord, StoredAuditRecord } from '../../audit/audit-event.js';
import { runQuery, type Db } from './database.js';
import { auditEvents } from './schema.js';
import { isUuid } from '../../ids/uuid.js';

/**
 * Inserts audit rows with the caller's executor: pass the transaction that makes the change, so
 * the change and its record commit or roll back together.
 */
export async function insertAudit(executor: Pick<Db, 'insert'>, records: readonly AuditRecord[]): Promise<void> {
  if (records.length === 0) return;
  await executor.insert(auditEvents).values([...records]);
}

export function createDrizzleAuditLog(db: Db): AuditLog {
  return {
    record: (record) => runQuery(() => insertAudit(db, [record])),

    list: (query) =>
      runQuery(async () => {
        if (query.subjectId !== undefined && !isUuid(query.subjectId)) return [];
        const conditions: SQL[] = [];
        if (query.subjectId !== undefined) conditions.push(eq(auditEvents.subjectId, query.subjectId));
        if (query.event !== undefined) conditions.push(eq(auditEvents.event, query.event));
        if (query.since !== undefined) conditions.push(gte(auditEvents.occurredAt, query.since));
        if (query.until !== undefined) conditions.push(lt(auditEvents.occurredAt, query.until));
        if (query.beforeId !== undefined) conditions.push(lt(auditEvents.id, query.beforeId));
        const rows = await db
          .select()
          .from(auditEvents)
          .where(conditions.length === 0 ? undefined : and(...conditions))
          .orderBy(desc(auditEvents.id))
          .limit(query.limit);
        return rows as StoredAuditRecord[];
      }),
  };
}
