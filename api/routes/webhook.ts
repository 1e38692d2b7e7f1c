import { bodyParser } from '@koa/bodyparser';
import Router from '@koa/router';
import type { Middleware } from 'koa';
import type { Database } from '../../db/database.js';
import { insertCallIfNew } from '../../db/queries/calls.js';
import type { JsonObject } from '../../db/schema.js';
import { callWorkflowId } from '../../core/temporal.js';
import type { CallDispatcher } from '../call-dispatcher.js';
import type { AppState } from '../context.js';
import { AppError } from '../errors.js';
import { authenticateIntegration } from '../middleware/authentication.js';
import { rateLimitIntegration, type RateLimiter } from '../middleware/rate-limit.js';
import { describePayloadError, webhookPayloadSchema } from '../webhook-payload.js';

export type WebhookRouteDeps = {
  db: Database;
  dispatcher: CallDispatcher;
  bodyLimit: string;
  /** Per-integration token buckets; see `WEBHOOK_RATE_LIMIT_PER_SECOND`. */
  rateLimiter: RateLimiter;
};

const contractErrors: Middleware<AppState> = async (ctx, next) => {
  ctx.state.contractErrors = true;
  await next();
};

const requireJson: Middleware<AppState> = async (ctx, next) => {
  if (!ctx.request.is('application/json')) {
    throw new AppError('unsupported_media_type');
  }
  await next();
};

/** `POST /api/webhooks/phone/generic/:token`, exactly as the public webhook contract describes. */
export function webhookRoutes({
  db,
  dispatcher,
  bodyLimit,
  rateLimiter,
}: WebhookRouteDeps): Router<AppState> {
  const router = new Router<AppState>();

  router.post(
    '/api/webhooks/phone/generic/:token',
    contractErrors,
    authenticateIntegration(db),
    rateLimitIntegration(rateLimiter),
    requireJson,
    bodyParser({ enableTypes: ['json'], jsonLimit: bodyLimit, jsonStrict: true, encoding: 'utf-8' }),
    async (ctx) => {
      const integration = ctx.state.integration!;
      const body: unknown = ctx.request.body;
      if (typeof body !== 'object' || body === null || Array.isArray(body)) {
        throw new AppError('invalid_payload', 'Invalid payload: body: Expected a JSON object');
      }

      const parsed = webhookPayloadSchema.safeParse(body);
      if (!parsed.success) {
        throw new AppError('invalid_payload', describePayloadError(parsed.error));
      }

      const payload = parsed.data;
      const transcript = payload.transcript?.trim() ? payload.transcript : undefined;
      if (!transcript && !payload.recordingUrl) {
        ctx.body = { skipped: true, reason: 'no_recording' };
        return;
      }

      const { call, created } = await insertCallIfNew(db, {
        workspace_id: integration.workspace_id,
        integration_id: integration.id,
        external_id: payload.externalId,
        rep_name: payload.repName ?? null,
        caller_phone: payload.callerPhone ?? null,
        duration: payload.duration ?? null,
        call_date: payload.callDate ? new Date(payload.callDate) : new Date(),
        recording_url: payload.recordingUrl ?? null,
        transcript_text: transcript ?? null,
        transcript_source: transcript ? 'inline' : null,
        // The object as the dialer sent it, not zod's copy: key order and every key kept verbatim.
        metadata: payload.metadata ? JSON.stringify((body as { metadata: JsonObject }).metadata) : null,
        workflow_id: callWorkflowId(integration.id, payload.externalId),
      });

      if (!created) {
        ctx.body = { skipped: true, reason: 'duplicate', callId: call.id };
        return;
      }

      dispatcher.dispatch(call);
      ctx.state.log.info({ callId: call.id, integrationId: integration.id }, 'call accepted');
      ctx.body = { success: true, callId: call.id };
    },
  );

  return router;
}
