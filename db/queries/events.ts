import { sql } from 'kysely';
import type { Database } from '../database.js';
import type {
  Event,
  JsonObject,
  NewEvent,
  NewWebhookDeliveryAttempt,
  WebhookDelivery,
  WebhookDeliveryAttempt,
  WebhookDeliveryStatus,
  WebhookEndpoint,
} from '../schema.js';
import { isUuid } from './integrations.js';

/**
 * Stores an event unless one with the same call, type and dedupe key exists; returns the stored
 * one either way, so a retried publish finds the event (and its id) of the first try.
 */
export async function insertEventIfNew(
  db: Database,
  values: NewEvent,
): Promise<{ event: Event; created: boolean }> {
  const inserted = await db
    .insertInto('events')
    .values(values)
    .onConflict((oc) => oc.columns(['call_id', 'type', 'dedupe_key']).doNothing())
    .returningAll()
    .executeTakeFirst();
  if (inserted) {
    return { event: inserted, created: true };
  }

  const existing = await db
    .selectFrom('events')
    .selectAll()
    .where('call_id', '=', values.call_id)
    .where('type', '=', values.type)
    .where('dedupe_key', '=', values.dedupe_key ?? '')
    .executeTakeFirstOrThrow();

  return { event: existing, created: false };
}

/** Stores the deliveries of an event to each endpoint, leaving those that exist as they are. */
export async function ensureDeliveries(
  db: Database,
  values: { workspaceId: string; eventId: string; endpointIds: readonly string[] },
): Promise<void> {
  if (values.endpointIds.length === 0) {
    return;
  }

  await db
    .insertInto('webhook_deliveries')
    .values(
      values.endpointIds.map((endpointId) => ({
        workspace_id: values.workspaceId,
        event_id: values.eventId,
        endpoint_id: endpointId,
        next_attempt_at: new Date(),
      })),
    )
    .onConflict((oc) => oc.columns(['event_id', 'endpoint_id']).doNothing())
    .execute();
}

/** Everything one attempt needs, in one query: the endpoint, the delivery's id, the event body. */
export async function findAttemptContext(
  db: Database,
  eventId: string,
  endpointId: string,
): Promise<(WebhookEndpoint & { delivery_id: string; payload: JsonObject }) | undefined> {
  return db
    .selectFrom('webhook_deliveries as d')
    .innerJoin('events as e', 'e.id', 'd.event_id')
    .innerJoin('webhook_endpoints as w', 'w.id', 'd.endpoint_id')
    .selectAll('w')
    .select(['d.id as delivery_id', 'e.payload'])
    .where('d.event_id', '=', eventId)
    .where('d.endpoint_id', '=', endpointId)
    .executeTakeFirst();
}

export async function findDelivery(
  db: Database,
  eventId: string,
  endpointId: string,
): Promise<WebhookDelivery | undefined> {
  return db
    .selectFrom('webhook_deliveries')
    .selectAll()
    .where('event_id', '=', eventId)
    .where('endpoint_id', '=', endpointId)
    .executeTakeFirst();
}

/** A delivery with the type and call of its event, as delivery listings show it. */
export type DeliveryRow = WebhookDelivery & { event_type: string; call_id: string };

export async function findWorkspaceDelivery(
  db: Database,
  workspaceId: string,
  id: string,
): Promise<DeliveryRow | undefined> {
  if (!isUuid(id)) {
    return undefined;
  }

  return db
    .selectFrom('webhook_deliveries as d')
    .innerJoin('events as e', 'e.id', 'd.event_id')
    .selectAll('d')
    .select(['e.type as event_type', 'e.call_id'])
    .where('d.workspace_id', '=', workspaceId)
    .where('d.id', '=', id)
    .executeTakeFirst();
}

/** Deliveries to one endpoint newest first, `limit` of them after the delivery `afterId`. */
export async function listEndpointDeliveries(
  db: Database,
  filter: { endpointId: string; limit: number; afterId?: string | undefined },
): Promise<DeliveryRow[]> {
  let query = db
    .selectFrom('webhook_deliveries as d')
    .innerJoin('events as e', 'e.id', 'd.event_id')
    .selectAll('d')
    .select(['e.type as event_type', 'e.call_id'])
    .where('d.endpoint_id', '=', filter.endpointId)
    .orderBy('d.created_at', 'desc')
    .orderBy('d.id', 'desc')
    .limit(filter.limit);

  if (filter.afterId) {
    query = query.where(
      sql<boolean>`(d.created_at, d.id) < (select w.created_at, w.id from webhook_deliveries w where w.id = ${filter.afterId})`,
    );
  }

  return query.execute();
}

/** The attempts of the deliveries, oldest first, grouped by delivery id. */
export async function listAttempts(
  db: Database,
  deliveryIds: string[],
): Promise<Map<string, WebhookDeliveryAttempt[]>> {
  const grouped = new Map<string, WebhookDeliveryAttempt[]>();
  if (deliveryIds.length === 0) {
    return grouped;
  }

  const rows = await db
    .selectFrom('webhook_delivery_attempts')
    .selectAll()
    .where('delivery_id', 'in', deliveryIds)
    .orderBy('attempt', 'asc')
    .execute();
  for (const row of rows) {
    grouped.set(row.delivery_id, [...(grouped.get(row.delivery_id) ?? []), row]);
  }

  return grouped;
}

/**
 * Logs one attempt and moves the delivery on, in one transaction. The attempt number comes from the
 * row itself, so scheduled and manual attempts running close together never share a number.
 */
export async function recordAttempt(
  db: Database,
  deliveryId: string,
  attempt: Omit<NewWebhookDeliveryAttempt, 'delivery_id' | 'attempt'>,
  next: { status: WebhookDeliveryStatus; nextAttemptAt: Date | null },
): Promise<WebhookDeliveryAttempt> {
  return db.transaction().execute(async (trx) => {
    const delivery = await trx
      .updateTable('webhook_deliveries')
      .set((eb) => ({
        attempt_count: eb('attempt_count', '+', 1),
        last_attempt_at: attempt.started_at,
        last_response_status: attempt.response_status ?? null,
        // A delivery that once succeeded stays succeeded, whatever a later replay meets.
        status: sql<WebhookDeliveryStatus>`case when status = 'succeeded' then 'succeeded' else ${next.status} end`,
        next_attempt_at: next.nextAttemptAt,
        updated_at: new Date(),
      }))
      .where('id', '=', deliveryId)
      .returning(['attempt_count'])
      .executeTakeFirstOrThrow();

    return trx
      .insertInto('webhook_delivery_attempts')
      .values({ ...attempt, delivery_id: deliveryId, attempt: delivery.attempt_count })
      .returningAll()
      .executeTakeFirstOrThrow();
  });
}

/** Settles a delivery that is still waiting: its schedule ran out, or its endpoint went away. */
export async function settlePendingDelivery(
  db: Database,
  deliveryId: string,
  status: 'failed' | 'skipped',
): Promise<void> {
  await db
    .updateTable('webhook_deliveries')
    .set({ status, next_attempt_at: null, updated_at: new Date() })
    .where('id', '=', deliveryId)
    .where('status', '=', 'pending')
    .execute();
}

/** Marks a delivery as waiting for an attempt requested now; a success stays a success. */
export async function markDeliveryRequeued(db: Database, deliveryId: string): Promise<void> {
  await db
    .updateTable('webhook_deliveries')
    .set({
      status: sql<WebhookDeliveryStatus>`case when status = 'succeeded' then 'succeeded' else 'pending' end`,
      next_attempt_at: new Date(),
      updated_at: new Date(),
    })
    .where('id', '=', deliveryId)
    .execute();
}

/** Puts back what {@link markDeliveryRequeued} changed, when the attempt could not be requested. */
export async function restoreDelivery(db: Database, delivery: WebhookDelivery): Promise<void> {
  await db
    .updateTable('webhook_deliveries')
    .set({ status: delivery.status, next_attempt_at: delivery.next_attempt_at })
    .where('id', '=', delivery.id)
    .execute();
}

/**
 * Deletes up to `limit` events created before `olderThan` of which no delivery is still pending,
 * with their deliveries and attempt log (by cascade), oldest first; returns how many it deleted.
 * Called in a loop by the pruning activity, so each statement holds its locks briefly.
 */
export async function deleteSettledEventsBefore(
  db: Database,
  olderThan: Date,
  limit: number,
): Promise<number> {
  const result = await db
    .deleteFrom('events')
    .where('id', 'in', (eb) =>
      eb
        .selectFrom('events as e')
        .select('e.id')
        .where('e.created_at', '<', olderThan)
        .where(({ not, exists, selectFrom }) =>
          not(
            exists(
              selectFrom('webhook_deliveries as d')
                .select('d.id')
                .whereRef('d.event_id', '=', 'e.id')
                .where('d.status', '=', 'pending'),
            ),
          ),
        )
        .orderBy('e.created_at')
        .limit(limit),
    )
    .executeTakeFirst();

  return Number(result.numDeletedRows);
}
