import { randomUUID } from 'node:crypto';
import type { Client } from '@temporalio/client';
import { callResource } from '../api/resources.js';
import type { Logger } from '../core/logger.js';
import { startWorkflowOnce } from '../core/temporal.js';
import type { Database } from '../db/database.js';
import { findCallById } from '../db/queries/calls.js';
import { ensureDeliveries, insertEventIfNew } from '../db/queries/events.js';
import { findSubscribedEndpoints } from '../db/queries/webhook-endpoints.js';
import type { Event } from '../db/schema.js';
import { deliveryWorkflowId, type deliverEvent } from '../workflows/deliver-event.js';
import type { CallEventType, EventPublisher } from './events.js';

export type EventPublisherDeps = {
  db: Database;
  client: Client;
  /** The task queue the delivery workflows run on (the worker's own). */
  taskQueue: string;
  logger: Logger;
  /** Delays in ms before each delivery attempt; the workflow's production schedule when absent. */
  retrySchedule?: readonly number[] | undefined;
  /** How long one workflow start may take before publishing fails and is retried (default 5 s). */
  startTimeoutMs?: number;
};

/** The body of every delivery of an event, as receivers get it. */
export type EventPayload = {
  id: string;
  type: CallEventType;
  createdAt: string;
  data: { call: ReturnType<typeof callResource> };
};

/**
 * The publisher the call activities use. Publishing stores the event with a snapshot of the call
 * (so every retry sends the same body), then starts one delivery workflow per subscribed endpoint
 * and returns: no HTTP request is made here, so no receiver can slow a call down.
 *
 * Publishing again after a failure is safe and completes what the first try left undone: the
 * event is unique per (call, type, dedupe key) and each delivery workflow id is derived from the
 * event and the endpoint, so nothing is stored or delivered twice.
 */
export function createEventPublisher(deps: EventPublisherDeps): EventPublisher {
  const { db, client, taskQueue, logger } = deps;
  const startTimeoutMs = deps.startTimeoutMs ?? 5_000;

  // A finished delivery is never repeated by a retried publish; replays are explicit.
  async function startDelivery(event: Event, endpointId: string): Promise<void> {
    await startWorkflowOnce<typeof deliverEvent>(
      client,
      'deliverEvent',
      {
        taskQueue,
        workflowId: deliveryWorkflowId(event.id, endpointId),
        args: [
          {
            eventId: event.id,
            endpointId,
            ...(deps.retrySchedule && { schedule: deps.retrySchedule }),
          },
        ],
      },
      startTimeoutMs,
    );
  }

  return {
    async publish(type, callId, options = {}) {
      const call = await findCallById(db, callId);
      if (!call) {
        logger.warn({ callId, type }, 'event for an unknown call dropped');
        return;
      }

      const id = randomUUID();
      const createdAt = new Date();
      const payload: EventPayload = {
        id,
        type,
        createdAt: createdAt.toISOString(),
        data: { call: callResource(call) },
      };
      const { event, created } = await insertEventIfNew(db, {
        id,
        workspace_id: call.workspace_id,
        call_id: call.id,
        type,
        dedupe_key: options.dedupeKey ?? '',
        payload: JSON.stringify(payload),
        created_at: createdAt,
      });

      const endpoints = await findSubscribedEndpoints(db, event.workspace_id, event.type);
      await ensureDeliveries(db, {
        workspaceId: event.workspace_id,
        eventId: event.id,
        endpointIds: endpoints.map((endpoint) => endpoint.id),
      });
      await Promise.all(endpoints.map((endpoint) => startDelivery(event, endpoint.id)));
      logger.info(
        { eventId: event.id, type, callId, endpoints: endpoints.length, created },
        'event published',
      );
    },
  };
}
