import { randomBytes } from 'node:crypto';
import Router from '@koa/router';
import type { Client } from '@temporalio/client';
import { z } from 'zod';
import { callEventTypes, type CallEventType } from '../../activities/events.js';
import { AddressRefusedError, type AddressPolicy } from '../../core/net/address-policy.js';
import type { SecretBox } from '../../core/secret-box.js';
import type { Database } from '../../db/database.js';
import {
  findWorkspaceDelivery,
  listAttempts,
  listEndpointDeliveries,
  markDeliveryRequeued,
  restoreDelivery,
  type DeliveryRow,
} from '../../db/queries/events.js';
import {
  countWebhookEndpoints,
  findWebhookEndpoint,
  insertWebhookEndpoint,
  listWebhookEndpoints,
  updateWebhookEndpoint,
} from '../../db/queries/webhook-endpoints.js';
import type { WebhookDeliveryAttempt, WebhookEndpoint } from '../../db/schema.js';
import {
  deliveryWorkflowId,
  retryNowSignal,
  type deliverEvent,
} from '../../workflows/deliver-event.js';
import type { AppState } from '../context.js';
import { AppError } from '../errors.js';
import { audited } from '../middleware/audit.js';
import { pageQuery, parseRequest, toPage } from '../validation.js';

export type WebhookEndpointRouteDeps = {
  db: Database;
  secretBox: SecretBox;
  /** Judges endpoint URLs: the same rules, and allow-private-hosts switch, as recording downloads. */
  addressPolicy: AddressPolicy;
  client: Client;
  taskQueue: string;
};

/** Endpoints one workspace may have: each event fans out to all of them. */
export const maxEndpointsPerWorkspace = 50;

/** How long the secret before a rotation keeps signing deliveries. */
export const secretOverlapMs = 24 * 3_600_000;

const url = z.string().trim().min(1, 'Must not be empty').max(2_000, 'At most 2,000 characters');

const description = z.string().trim().max(500, 'At most 500 characters');

const eventTypes = z
  .array(z.enum(callEventTypes as [CallEventType, ...CallEventType[]]))
  .max(callEventTypes.length * 2)
  .transform((types) => [...new Set(types)]);

const createSchema = z.object({
  url,
  description: description.default(''),
  eventTypes: eventTypes.default([]),
  enabled: z.boolean().default(true),
});

const updateSchema = z
  .object({
    url: url.optional(),
    description: description.optional(),
    eventTypes: eventTypes.optional(),
    enabled: z.boolean().optional(),
  })
  .refine((value) => Object.keys(value).length > 0, 'Nothing to change');

const deliveriesQuery = pageQuery(200);

/** A Standard Webhooks secret: `whsec_` and the base64 of 32 random bytes. */
export function generateSigningSecret(): string {
  return `whsec_${randomBytes(32).toString('base64')}`;
}

/** An endpoint as the API shows it: never its secret, which is shown only when made. */
export function webhookEndpointResource(endpoint: WebhookEndpoint) {
  return {
    id: endpoint.id,
    url: endpoint.url,
    description: endpoint.description,
    eventTypes: endpoint.event_types,
    enabled: endpoint.enabled,
    disabledReason: endpoint.disabled_reason,
    failingSince: endpoint.failing_since?.toISOString() ?? null,
    previousSecretExpiresAt:
      endpoint.previous_secret_expires_at && endpoint.previous_secret_expires_at > new Date()
        ? endpoint.previous_secret_expires_at.toISOString()
        : null,
    createdAt: endpoint.created_at.toISOString(),
    updatedAt: endpoint.updated_at.toISOString(),
  };
}

function attemptResource(attempt: WebhookDeliveryAttempt) {
  return {
    attempt: attempt.attempt,
    trigger: attempt.trigger,
    startedAt: attempt.started_at.toISOString(),
    succeeded: attempt.succeeded,
    responseStatus: attempt.response_status,
    latencyMs: attempt.latency_ms,
    responseBody: attempt.response_body,
    error: attempt.error,
  };
}

/** A delivery of one event to one endpoint, with every attempt made so far (oldest first). */
export function deliveryResource(delivery: DeliveryRow, attempts: WebhookDeliveryAttempt[]) {
  return {
    id: delivery.id,
    endpointId: delivery.endpoint_id,
    eventId: delivery.event_id,
    eventType: delivery.event_type,
    callId: delivery.call_id,
    status: delivery.status,
    attemptCount: delivery.attempt_count,
    lastAttemptAt: delivery.last_attempt_at?.toISOString() ?? null,
    lastResponseStatus: delivery.last_response_status,
    nextAttemptAt: delivery.next_attempt_at?.toISOString() ?? null,
    createdAt: delivery.created_at.toISOString(),
    updatedAt: delivery.updated_at.toISOString(),
    attempts: attempts.map(attemptResource),
  };
}

/** Outbound webhook endpoints of a workspace, their deliveries, and replays of a delivery. */
export function webhookEndpointRoutes(deps: WebhookEndpointRouteDeps): Router<AppState> {
  const { db, secretBox, addressPolicy, client, taskQueue } = deps;
  const router = new Router<AppState>();

  function checkedUrl(input: string): string {
    try {
      return addressPolicy.checkUrl(input).toString();
    } catch (error) {
      if (error instanceof AddressRefusedError) {
        throw new AppError('url_refused', `URL refused: ${error.message}`);
      }
      throw error;
    }
  }

  async function requireEndpoint(workspaceId: string, id: string): Promise<WebhookEndpoint> {
    const endpoint = await findWebhookEndpoint(db, workspaceId, id);
    if (!endpoint) {
      throw new AppError('not_found', 'Webhook endpoint not found');
    }

    return endpoint;
  }

  router.post('/api/webhook-endpoints', audited(db, 'webhook_endpoint.create'), async (ctx) => {
    const input = parseRequest(createSchema, ctx.request.body);
    const workspaceId = ctx.state.workspaceId!;
    const target = checkedUrl(input.url);
    if ((await countWebhookEndpoints(db, workspaceId)) >= maxEndpointsPerWorkspace) {
      throw new AppError(
        'conflict',
        `A workspace has at most ${maxEndpointsPerWorkspace} webhook endpoints`,
      );
    }

    const secret = generateSigningSecret();
    const endpoint = await insertWebhookEndpoint(db, {
      workspace_id: workspaceId,
      url: target,
      description: input.description,
      event_types: input.eventTypes,
      enabled: input.enabled,
      disabled_reason: input.enabled ? null : 'manual',
      secret_sealed: secretBox.seal(secret),
    });
    ctx.state.log.info({ endpointId: endpoint.id }, 'webhook endpoint created');

    ctx.status = 201;
    // The only time the secret is shown, with the rotation route's answer.
    ctx.body = { ...webhookEndpointResource(endpoint), secret };
  });

  router.get('/api/webhook-endpoints', async (ctx) => {
    const endpoints = await listWebhookEndpoints(db, ctx.state.workspaceId!);
    ctx.body = { endpoints: endpoints.map(webhookEndpointResource) };
  });

  router.get('/api/webhook-endpoints/:id', async (ctx) => {
    const endpoint = await requireEndpoint(ctx.state.workspaceId!, String(ctx.params.id));
    ctx.body = webhookEndpointResource(endpoint);
  });

  router.patch(
    '/api/webhook-endpoints/:id',
    audited(db, 'webhook_endpoint.update'),
    async (ctx) => {
      const input = parseRequest(updateSchema, ctx.request.body);
      const endpoint = await updateWebhookEndpoint(
        db,
        ctx.state.workspaceId!,
        String(ctx.params.id),
        {
          ...(input.url !== undefined && { url: checkedUrl(input.url) }),
          ...(input.description !== undefined && { description: input.description }),
          ...(input.eventTypes !== undefined && { event_types: input.eventTypes }),
          // Enabling starts afresh: the old run of failures says nothing about the fixed receiver.
          ...(input.enabled === true && {
            enabled: true,
            disabled_reason: null,
            failing_since: null,
          }),
          ...(input.enabled === false && { enabled: false, disabled_reason: 'manual' as const }),
        },
      );
      if (!endpoint) {
        throw new AppError('not_found', 'Webhook endpoint not found');
      }
      ctx.state.log.info({ endpointId: endpoint.id }, 'webhook endpoint updated');
      ctx.body = webhookEndpointResource(endpoint);
    },
  );

  router.delete(
    '/api/webhook-endpoints/:id',
    audited(db, 'webhook_endpoint.delete'),
    async (ctx) => {
      const endpoint = await updateWebhookEndpoint(
        db,
        ctx.state.workspaceId!,
        String(ctx.params.id),
        {
          deleted_at: new Date(),
          enabled: false,
        },
      );
      if (!endpoint) {
        throw new AppError('not_found', 'Webhook endpoint not found');
      }
      ctx.state.log.info({ endpointId: endpoint.id }, 'webhook endpoint deleted');
      ctx.status = 204;
    },
  );

  router.post(
    '/api/webhook-endpoints/:id/rotate-secret',
    audited(db, 'webhook_endpoint.rotate_secret'),
    async (ctx) => {
      const workspaceId = ctx.state.workspaceId!;
      const current = await requireEndpoint(workspaceId, String(ctx.params.id));
      const secret = generateSigningSecret();
      // Only the secret in use now overlaps with the new one: a second rotation within the day
      // retires the first secret at once.
      const endpoint = await updateWebhookEndpoint(db, workspaceId, current.id, {
        secret_sealed: secretBox.seal(secret),
        previous_secret_sealed: current.secret_sealed,
        previous_secret_expires_at: new Date(Date.now() + secretOverlapMs),
      });
      if (!endpoint) {
        throw new AppError('not_found', 'Webhook endpoint not found');
      }
      ctx.state.log.info({ endpointId: endpoint.id }, 'webhook endpoint secret rotated');
      ctx.body = { ...webhookEndpointResource(endpoint), secret };
    },
  );

  router.get('/api/webhook-endpoints/:id/deliveries', async (ctx) => {
    const query = parseRequest(deliveriesQuery, ctx.query);
    const endpoint = await requireEndpoint(ctx.state.workspaceId!, String(ctx.params.id));
    const rows = await listEndpointDeliveries(db, {
      endpointId: endpoint.id,
      limit: query.limit + 1,
      afterId: query.cursor,
    });

    const { page, nextCursor } = toPage(rows, query.limit);
    const attempts = await listAttempts(
      db,
      page.map((row) => row.id),
    );
    ctx.body = {
      deliveries: page.map((row) => deliveryResource(row, attempts.get(row.id) ?? [])),
      nextCursor,
    };
  });

  router.get('/api/webhook-deliveries/:id', async (ctx) => {
    const delivery = await findWorkspaceDelivery(db, ctx.state.workspaceId!, String(ctx.params.id));
    if (!delivery) {
      throw new AppError('not_found', 'Webhook delivery not found');
    }
    const attempts = await listAttempts(db, [delivery.id]);
    ctx.body = deliveryResource(delivery, attempts.get(delivery.id) ?? []);
  });

  router.post(
    '/api/webhook-deliveries/:id/retry',
    audited(db, 'webhook_delivery.retry'),
    async (ctx) => {
      const workspaceId = ctx.state.workspaceId!;
      const delivery = await findWorkspaceDelivery(db, workspaceId, String(ctx.params.id));
      if (!delivery) {
        throw new AppError('not_found', 'Webhook delivery not found');
      }
      const endpoint = await requireEndpoint(workspaceId, delivery.endpoint_id);
      if (!endpoint.enabled) {
        throw new AppError('endpoint_disabled', 'Webhook endpoint is disabled: enable it first');
      }

      await markDeliveryRequeued(db, delivery.id);
      try {
        // A delivery still waiting is told to try now; a finished one gets a fresh run of one
        // attempt. Either way the event, and so the webhook-id, is the same.
        await client.connection.withDeadline(Date.now() + 5_000, () =>
          client.workflow.signalWithStart<typeof deliverEvent, []>('deliverEvent', {
            taskQueue,
            workflowId: deliveryWorkflowId(delivery.event_id, delivery.endpoint_id),
            args: [
              {
                eventId: delivery.event_id,
                endpointId: delivery.endpoint_id,
                schedule: [0],
                firstTrigger: 'manual',
              },
            ],
            signal: retryNowSignal,
            signalArgs: [],
            workflowIdReusePolicy: 'ALLOW_DUPLICATE',
          }),
        );
      } catch (error) {
        await restoreDelivery(db, delivery);
        ctx.state.log.warn({ err: error, deliveryId: delivery.id }, 'delivery retry not requested');
        throw new AppError('not_ready', 'Temporal is unavailable: try again shortly');
      }
      ctx.state.log.info({ deliveryId: delivery.id }, 'webhook delivery retry requested');

      const requeued = await findWorkspaceDelivery(db, workspaceId, delivery.id);
      const attempts = await listAttempts(db, [delivery.id]);
      ctx.status = 202;
      ctx.body = deliveryResource(requeued ?? delivery, attempts.get(delivery.id) ?? []);
    },
  );

  return router;
}
