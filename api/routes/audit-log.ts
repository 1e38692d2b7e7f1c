import Router from '@koa/router';
import type { Database } from '../../db/database.js';
import { listAuditEntries, type AuditLogRow } from '../../db/queries/audit-log.js';
import type { AppState } from '../context.js';
import { pageQuery, parseRequest, toPage } from '../validation.js';

export type AuditLogRouteDeps = { db: Database };

const listQuery = pageQuery(500);

/** An audit entry as the API shows it; the admin key by id, preview and label, never the key. */
export function auditEntryResource(entry: AuditLogRow) {
  return {
    id: entry.id,
    action: entry.action,
    targetType: entry.target_type,
    targetId: entry.target_id,
    adminKey: entry.admin_key_id
      ? { id: entry.admin_key_id, preview: entry.admin_key_preview, label: entry.admin_key_label }
      : null,
    details: entry.details,
    requestId: entry.request_id,
    createdAt: entry.created_at.toISOString(),
  };
}

/** `GET /api/audit-log`: the workspace's management actions, newest first. */
export function auditLogRoutes({ db }: AuditLogRouteDeps): Router<AppState> {
  const router = new Router<AppState>();

  router.get('/api/audit-log', async (ctx) => {
    const query = parseRequest(listQuery, ctx.query);
    const rows = await listAuditEntries(db, {
      workspaceId: ctx.state.workspaceId!,
      limit: query.limit + 1,
      afterId: query.cursor,
    });

    const { page, nextCursor } = toPage(rows, query.limit);
    ctx.body = { entries: page.map(auditEntryResource), nextCursor };
  });

  return router;
}
