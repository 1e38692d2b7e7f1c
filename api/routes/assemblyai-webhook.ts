import Router from '@koa/router';
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import {
  assemblyAiWebhookHeader,
  assemblyAiWebhookPurpose,
} from '../../core/assemblyai-webhook.js';
import type { SecretBox } from '../../core/secret-box.js';
import type { Database } from '../../db/database.js';
import { findCallById } from '../../db/queries/calls.js';
import { transcriptReadySignal } from '../../workflows/process-call.js';
import type { AppState } from '../context.js';
import { AppError } from '../errors.js';

export type AssemblyAiWebhookRouteDeps = { db: Database; client: Client; secretBox: SecretBox };

/**
 * `POST /api/assemblyai/webhook/:callId`: AssemblyAI saying that the call's transcript is done (or
 * failed). The request proves itself with the token the worker gave AssemblyAI for that call; the
 * body is not needed, because the workflow reads the transcript's state from AssemblyAI itself.
 * All it does is wake the call's workflow, so a repeated or late call is harmless.
 */
export function assemblyAiWebhookRoutes(deps: AssemblyAiWebhookRouteDeps): Router<AppState> {
  const router = new Router<AppState>();

  router.post('/api/assemblyai/webhook/:callId', async (ctx) => {
    const callId = String(ctx.params.callId);
    const token = ctx.get(assemblyAiWebhookHeader);
    if (!token || !deps.secretBox.verify(assemblyAiWebhookPurpose, callId, token)) {
      throw new AppError('unauthorized');
    }

    const call = await findCallById(deps.db, callId);
    if (call?.workflow_id) {
      try {
        const workflow = deps.client.workflow.getHandle(call.workflow_id);
        await deps.client.connection.withDeadline(Date.now() + 5_000, () =>
          workflow.signal(transcriptReadySignal),
        );
      } catch (error) {
        // A finished workflow has nothing left to wake.
        if (!(error instanceof WorkflowNotFoundError)) {
          ctx.state.log.warn({ err: error, callId }, 'transcript webhook not passed on');
          // AssemblyAI calls again after a failure; the workflow's own status checks go on anyway.
          throw new AppError('not_ready', 'Temporal is unavailable: try again shortly');
        }
      }
    }
    ctx.state.log.info({ callId }, 'transcript webhook received');
    ctx.body = { received: true };
  });

  return router;
}
