import Router from '@koa/router';
import { ZodError } from 'zod';
import type { Database } from '../../db/database.js';
import {
  deleteRubricOverride,
  findRubricOverride,
  saveRubricOverride,
} from '../../db/queries/scoring.js';
import type { JsonObject } from '../../db/schema.js';
import { defaultRubric, mergeRubric, rubricFor } from '../../scoring/index.js';
import type { AppState } from '../context.js';
import { AppError } from '../errors.js';
import { describeIssues } from '../validation.js';

export type ScoringRouteDeps = { db: Database };

/** The workspace's scoring rubric: the built-in defaults plus its own weights and keywords. */
export function scoringRoutes({ db }: ScoringRouteDeps): Router<AppState> {
  const router = new Router<AppState>();

  async function current(workspaceId: string) {
    const override = (await findRubricOverride(db, workspaceId)) ?? null;

    return { rubric: rubricFor(override), override };
  }

  router.get('/api/scoring/rubric', async (ctx) => {
    ctx.body = await current(ctx.state.workspaceId!);
  });

  router.put('/api/scoring/rubric', async (ctx) => {
    const override = ctx.request.body as JsonObject | undefined;
    try {
      mergeRubric(defaultRubric, override);
    } catch (error) {
      if (error instanceof ZodError) {
        throw new AppError('invalid_request', `Invalid request: ${describeIssues(error)}`);
      }
      throw error;
    }

    await saveRubricOverride(db, ctx.state.workspaceId!, override!);
    ctx.state.log.info({ workspaceId: ctx.state.workspaceId }, 'scoring rubric changed');
    ctx.body = await current(ctx.state.workspaceId!);
  });

  router.delete('/api/scoring/rubric', async (ctx) => {
    await deleteRubricOverride(db, ctx.state.workspaceId!);
    ctx.body = await current(ctx.state.workspaceId!);
  });

  return router;
}
