import { sql } from 'kysely';
import type { Database } from '../database.js';
import type { NewWebhookEndpoint, WebhookEndpoint, WebhookEndpointUpdate } from '../schema.js';
import { isUuid } from './integrations.js';

export async function insertWebhookEndpoint(
  db: Database,
  values: NewWebhookEndpoint,
): Promise<WebhookEndpoint> {
  return db.insertInto('webhook_endpoints').values(values).returningAll().executeTakeFirstOrThrow();
}

/** A live (not deleted) endpoint of the workspace. */
export async function findWebhookEndpoint(
  db: Database,
  workspaceId: string,
  id: string,
): Promise<WebhookEndpoint | undefined> {
  if (!isUuid(id)) {
    return undefined;
  }

  return db
    .selectFrom('webhook_endpoints')
    .selectAll()
    .where('workspace_id', '=', workspaceId)
    .where('id', '=', id)
    .where('deleted_at', 'is', null)
    .executeTakeFirst();
}

export async function listWebhookEndpoints(
  db: Database,
  workspaceId: string,
): Promise<WebhookEndpoint[]> {
  return db
    .selectFrom('webhook_endpoints')
    .selectAll()
    .where('workspace_id', '=', workspaceId)
    .where('deleted_at', 'is', null)
    .orderBy('created_at', 'asc')
    .orderBy('id', 'asc')
    .execute();
}

export async function countWebhookEndpoints(db: Database, workspaceId: string): Promise<number> {
  const row = await db
    .selectFrom('webhook_endpoints')
    .select((eb) => eb.fn.countAll<string>().as('count'))
    .where('workspace_id', '=', workspaceId)
    .where('deleted_at', 'is', null)
    .executeTakeFirstOrThrow();

  return Number(row.count);
}

/** The enabled endpoints of a workspace that subscribe to an event type (an empty filter is all). */
export async function findSubscribedEndpoints(
  db: Database,
  workspaceId: string,
  eventType: string,
): Promise<WebhookEndpoint[]> {
  return db
    .selectFrom('webhook_endpoints')
    .selectAll()
    .where('workspace_id', '=', workspaceId)
    .where('enabled', '=', true)
    .where('deleted_at', 'is', null)
    .where(sql<boolean>`(cardinality(event_types) = 0 or ${eventType} = any(event_types))`)
    .orderBy('created_at', 'asc')
    .execute();
}

export async function updateWebhookEndpoint(
  db: Database,
  workspaceId: string,
  id: string,
  changes: WebhookEndpointUpdate,
): Promise<WebhookEndpoint | undefined> {
  if (!isUuid(id)) {
    return undefined;
  }

  return db
    .updateTable('webhook_endpoints')
    .set({ ...changes, updated_at: new Date() })
    .where('workspace_id', '=', workspaceId)
    .where('id', '=', id)
    .where('deleted_at', 'is', null)
    .returningAll()
    .executeTakeFirst();
}

/** A success ends the endpoint's run of failures. */
export async function markEndpointSucceeded(db: Database, id: string): Promise<void> {
  await db
    .updateTable('webhook_endpoints')
    .set({ failing_since: null })
    .where('id', '=', id)
    .where('failing_since', 'is not', null)
    .execute();
}

/**
 * Records a failed attempt: starts the endpoint's run of failures if none is under way, and
 * disables the endpoint once that run has lasted `disableAfterMs`. Returns whether it is now
 * disabled by this failure.
 */
export async function markEndpointFailed(
  db: Database,
  id: string,
  now: Date,
  disableAfterMs: number,
): Promise<boolean> {
  const row = await db
    .updateTable('webhook_endpoints')
    .set({ failing_since: sql<Date>`coalesce(failing_since, ${now})` })
    .where('id', '=', id)
    .returning(['failing_since', 'enabled'])
    .executeTakeFirst();
  if (!row?.failing_since || !row.enabled) {
    return false;
  }
  if (now.getTime() - row.failing_since.getTime() < disableAfterMs) {
    return false;
  }

  await disableEndpoint(db, id, 'failing');

  return true;
}

export async function disableEndpoint(
  db: Database,
  id: string,
  reason: 'gone' | 'failing',
): Promise<void> {
  await db
    .updateTable('webhook_endpoints')
    .set({ enabled: false, disabled_reason: reason, updated_at: new Date() })
    .where('id', '=', id)
    .where('enabled', '=', true)
    .execute();
}
