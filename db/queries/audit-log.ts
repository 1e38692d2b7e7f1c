import { sql } from 'kysely';
import type { Database } from '../database.js';
import type { AuditLogEntry, JsonObject } from '../schema.js';

export type NewAuditEntry = {
  workspaceId: string;
  adminKeyId: string | null;
  action: string;
  targetType: string;
  targetId: string | null;
  details?: JsonObject | null;
  requestId?: string | null;
};

export async function insertAuditEntry(db: Database, entry: NewAuditEntry): Promise<void> {
  await db
    .insertInto('audit_log')
    .values({
      workspace_id: entry.workspaceId,
      admin_key_id: entry.adminKeyId,
      action: entry.action,
      target_type: entry.targetType,
      target_id: entry.targetId,
      details: entry.details ? JSON.stringify(entry.details) : null,
      request_id: entry.requestId ?? null,
    })
    .execute();
}

export type AuditLogRow = AuditLogEntry & {
  admin_key_preview: string | null;
  admin_key_label: string | null;
};

/** A workspace's audit entries newest first, `limit` of them after the entry `afterId`. */
export async function listAuditEntries(
  db: Database,
  filter: { workspaceId: string; limit: number; afterId?: string | undefined },
): Promise<AuditLogRow[]> {
  let query = db
    .selectFrom('audit_log as a')
    .leftJoin('admin_keys as k', 'k.id', 'a.admin_key_id')
    .selectAll('a')
    .select(['k.key_preview as admin_key_preview', 'k.label as admin_key_label'])
    .where('a.workspace_id', '=', filter.workspaceId)
    .orderBy('a.created_at', 'desc')
    .orderBy('a.id', 'desc')
    .limit(filter.limit);

  if (filter.afterId) {
    query = query.where(
      sql<boolean>`(a.created_at, a.id) < (select l.created_at, l.id from audit_log l where l.id = ${filter.afterId})`,
    );
  }

  return query.execute();
}
