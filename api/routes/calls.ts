import Router from '@koa/router';
import { randomUUID } from 'node:crypto';
import type { Client } from '@temporalio/client';
import { z } from 'zod';
import { startWorkflowOnce } from '../../core/temporal.js';
import type { Database } from '../../db/database.js';
import { findWorkspaceCall, listCalls } from '../../db/queries/calls.js';
import { listScores } from '../../db/queries/scoring.js';
import type { rescoreCall } from '../../workflows/index.js';
import { callStatuses } from '../../db/schema.js';
import type { AppState } from '../context.js';
import { AppError } from '../errors.js';
import { callResource } from '../resources.js';
import { pageQuery, parseRequest, toPage, uuidParam } from '../validation.js';

export type CallRouteDeps = { db: Database; client: Client; taskQueue: string };

const idempotencyKey = /^[\w.:-]{1,100}$/;

const listQuery = pageQuery(500).extend({
  integrationId: uuidParam.optional(),
  status: z.enum(callStatuses as [string, ...string[]]).optional(),
});

/** Reading calls: one by id, or pages of them newest first. */
export function callRoutes({ db, client, taskQueue }: CallRouteDeps): Router<AppState> {
  const router = new Router<AppState>();

  router.get('/api/calls', async (ctx) => {
    const query = parseRequest(listQuery, ctx.query);
    const calls = await listCalls(db, {
      workspaceId: ctx.state.workspaceId!,
      integrationId: query.integrationId,
      status: query.status as (typeof callStatuses)[number] | undefined,
      limit: query.limit + 1,
      afterId: query.cursor,
    });

    const { page, nextCursor } = toPage(calls, query.limit);
    ctx.body = { calls: page.map(callResource), nextCursor };
  });

  router.get('/api/calls/:id', async (ctx) => {
    const call = await findWorkspaceCall(db, ctx.state.workspaceId!, String(ctx.params.id));
    if (!call) {
      throw new AppError('not_found', 'Call not found');
    }
    ctx.body = callResource(call);
  });

  router.get('/api/calls/:id/scores', async (ctx) => {
    const call = await findWorkspaceCall(db, ctx.state.workspaceId!, String(ctx.params.id));
    if (!call) {
      throw new AppError('not_found', 'Call not found');
    }

    const scores = await listScores(db, call.id);
    ctx.body = {
      scores: scores.map((score) => ({
        id: score.id,
        scorer: score.scorer,
        scorerVersion: score.scorer_version,
        overall: score.overall,
        requestId: score.request_id,
        createdAt: score.created_at.toISOString(),
        scorecard: score.scorecard,
      })),
    };
  });

  /**
   * Scores the stored transcript again. An `Idempotency-Key` header makes a retried request start
   * no second re-score; without one, every request is a new re-score.
   */
  router.post('/api/calls/:id/rescore', async (ctx) => {
    const call = await findWorkspaceCall(db, ctx.state.workspaceId!, String(ctx.params.id));
    if (!call) {
      throw new AppError('not_found', 'Call not found');
    }
    if (!call.transcript_text) {
      throw new AppError('conflict', 'Call has no transcript to score yet');
    }
    const key = ctx.get('idempotency-key');
    if (key && !idempotencyKey.test(key)) {
      throw new AppError('invalid_request', 'Invalid request: Idempotency-Key must be 1-100 letters, digits, ".", ":", "_" or "-"');
    }

    const requestId = key || randomUUID();
    const workflowId = `rescore:${call.id}:${requestId}`;
    await startWorkflowOnce<typeof rescoreCall>(client, 'rescoreCall', {
      taskQueue,
      workflowId,
      args: [{ callId: call.id, requestId }],
    });

    ctx.status = 202;
    ctx.body = { callId: call.id, requestId, workflowId };
  });

  return router;
}
