import Router from '@koa/router';
import { z } from 'zod';
import type { Database } from '../../db/database.js';
import { findWorkspaceCall, listCalls } from '../../db/queries/calls.js';
import { isUuid } from '../../db/queries/integrations.js';
import { callStatuses } from '../../db/schema.js';
import type { AppState } from '../context.js';
import { AppError } from '../errors.js';
import { callResource } from '../resources.js';
import { parseRequest } from '../validation.js';

export type CallRouteDeps = { db: Database };

const uuid = z.string().refine(isUuid, 'Must be a UUID');

const listQuery = z.object({
  integrationId: uuid.optional(),
  status: z.enum(callStatuses as [string, ...string[]]).optional(),
  limit: z.coerce.number().int().min(1).max(500).default(50),
  cursor: uuid.optional(),
});

/** Reading calls: one by id, or pages of them newest first. */
export function callRoutes({ db }: CallRouteDeps): Router<AppState> {
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

    const page = calls.slice(0, query.limit);
    ctx.body = {
      calls: page.map(callResource),
      nextCursor: calls.length > query.limit ? (page.at(-1)?.id ?? null) : null,
    };
  });

  router.get('/api/calls/:id', async (ctx) => {
    const call = await findWorkspaceCall(db, ctx.state.workspaceId!, String(ctx.params.id));
    if (!call) {
      throw new AppError('not_found', 'Call not found');
    }
    ctx.body = callResource(call);
  });

  return router;
}
