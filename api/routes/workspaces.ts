import Router from '@koa/router';
import { z } from 'zod';
import { createAdminKey, defaultWorkspaceName } from '../../core/bootstrap.js';
import type { Database } from '../../db/database.js';
import { ensureWorkspace, findWorkspaceByName } from '../../db/queries/workspaces.js';
import type { AppState } from '../context.js';
import { AppError } from '../errors.js';
import { audited } from '../middleware/audit.js';
import { parseRequest } from '../validation.js';

export type WorkspaceRouteDeps = { db: Database };

const createSchema = z.object({
  name: z.string().trim().min(1, 'Must not be empty').max(100, 'At most 100 characters'),
});

/**
 * `POST /api/workspaces`: a new workspace and its first admin key, shown once. Only an admin key
 * of the `default` workspace may create workspaces: that workspace is the operator's, made at
 * first start, and every other workspace is a tenant that must not be able to mint more.
 */
export function workspaceRoutes({ db }: WorkspaceRouteDeps): Router<AppState> {
  const router = new Router<AppState>();

  router.post('/api/workspaces', audited(db, 'workspace.create'), async (ctx) => {
    const operator = await findWorkspaceByName(db, defaultWorkspaceName);
    if (!operator || operator.id !== ctx.state.workspaceId) {
      throw new AppError(
        'forbidden',
        'Only an admin key of the default workspace may create workspaces',
      );
    }

    const input = parseRequest(createSchema, ctx.request.body);
    const { workspace, created } = await ensureWorkspace(db, input.name);
    if (!created) {
      throw new AppError('conflict', 'A workspace of that name exists');
    }
    const adminKey = await createAdminKey(db, workspace.id, 'first admin key');
    ctx.state.log.info({ workspaceId: workspace.id }, 'workspace created');

    ctx.status = 201;
    ctx.body = {
      id: workspace.id,
      name: workspace.name,
      createdAt: workspace.created_at.toISOString(),
      // The only time the key is shown: only its SHA-256 is stored.
      adminKey,
    };
  });

  return router;
}
