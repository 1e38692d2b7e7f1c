import type { Middleware } from 'koa';
import type { Database } from '../../db/database.js';
import { insertAuditEntry } from '../../db/queries/audit-log.js';
import type { AppState } from '../context.js';

/** Every management action the audit log records, as `<target type>.<verb>`. */
export type AuditAction =
  | 'integration.create'
  | 'integration.update'
  | 'integration.delete'
  | 'integration.rotate_key'
  | 'webhook_endpoint.create'
  | 'webhook_endpoint.update'
  | 'webhook_endpoint.delete'
  | 'webhook_endpoint.rotate_secret'
  | 'webhook_delivery.retry'
  | 'workspace.create';

/** The names of the fields a request set, sorted; their values are never logged (some are secret). */
function fieldsOf(body: unknown): string[] | undefined {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    return undefined;
  }
  const keys = Object.keys(body).sort();

  return keys.length > 0 ? keys : undefined;
}

/**
 * Records the action in the workspace's audit log once the route has succeeded: which admin key,
 * what, when, and the target's id (the `:id` route parameter, else the `id` the route answered
 * with, as on a create). A failed request records nothing. If the entry cannot be written the
 * change stands and the failure is logged: the action has happened, and answering 500 would only
 * invite a retry of it.
 */
export function audited(db: Database, action: AuditAction): Middleware<AppState> {
  const targetType = action.slice(0, action.indexOf('.'));

  return async (ctx, next) => {
    await next();
    if (ctx.status < 200 || ctx.status >= 300) {
      return;
    }

    const params = (ctx as unknown as { params?: Record<string, string> }).params ?? {};
    const answered = (ctx.body as { id?: unknown } | undefined)?.id;
    const targetId = params.id ?? (typeof answered === 'string' ? answered : null);
    const fields = fieldsOf(ctx.request.body);

    try {
      await insertAuditEntry(db, {
        workspaceId: ctx.state.workspaceId!,
        adminKeyId: ctx.state.adminKeyId ?? null,
        action,
        targetType,
        targetId,
        details: fields ? { fields } : null,
        requestId: ctx.state.requestId,
      });
    } catch (error) {
      ctx.state.log.error({ err: error, action, targetId }, 'audit entry not recorded');
    }
  };
}
