import { randomUUID } from 'node:crypto';
import Router from '@koa/router';
import { z } from 'zod';
import { generateApiKey, hashSecret, keyPreview } from '../../core/secrets.js';
import type { SecretBox } from '../../core/secret-box.js';
import type { Database } from '../../db/database.js';
import {
  findIntegration,
  insertIntegration,
  listIntegrations,
  updateIntegration,
} from '../../db/queries/integrations.js';
import type { AppState } from '../context.js';
import { AppError } from '../errors.js';
import { audited } from '../middleware/audit.js';
import { normaliseAllowlistEntry } from '../ip-allowlist.js';
import { integrationResource, webhookUrlFor } from '../resources.js';
import { parseRequest } from '../validation.js';

export type IntegrationRouteDeps = { db: Database; publicBaseUrl: string; secretBox: SecretBox };

const allowlist = z
  .array(z.string())
  .max(100, 'At most 100 entries')
  .transform((entries, ctx) => {
    const normalised: string[] = [];
    for (const [index, entry] of entries.entries()) {
      try {
        normalised.push(normaliseAllowlistEntry(entry));
      } catch (error) {
        ctx.addIssue({ code: 'custom', path: [index], message: (error as Error).message });
      }
    }

    return [...new Set(normalised)];
  });

const name = z.string().trim().min(1, 'Must not be empty').max(200, 'At most 200 characters');

const createSchema = z.object({
  name,
  provider: z
    .string()
    .trim()
    .regex(/^[a-z0-9][a-z0-9_-]{0,39}$/i, 'Must be a short identifier such as twilio or 360cti')
    .optional(),
  ipAllowlist: allowlist.optional(),
});

const recordingAuth = z
  .object({ username: z.string().min(1).max(500), password: z.string().max(2_000) })
  .nullable();

const transcriptionLanguage = z
  .string()
  .regex(/^[a-z]{2,3}(_[a-z]{2})?$/, 'Must be an AssemblyAI language code such as en_us or de')
  .nullable();

const updateSchema = z
  .object({
    name: name.optional(),
    ipAllowlist: allowlist.optional(),
    enabled: z.boolean().optional(),
    /** HTTP Basic credentials for the recording host (Twilio can require them); null removes them. */
    recordingAuth: recordingAuth.optional(),
    transcriptionLanguage: transcriptionLanguage.optional(),
  })
  .refine((value) => Object.keys(value).length > 0, 'Nothing to change');

/** Workspace integrations: the webhook URLs dialers post to and their keys. */
export function integrationRoutes({
  db,
  publicBaseUrl,
  secretBox,
}: IntegrationRouteDeps): Router<AppState> {
  const router = new Router<AppState>();

  router.post('/api/integrations', audited(db, 'integration.create'), async (ctx) => {
    const input = parseRequest(createSchema, ctx.request.body);
    const apiKey = generateApiKey();
    const token = randomUUID();

    const integration = await insertIntegration(db, {
      workspace_id: ctx.state.workspaceId!,
      name: input.name,
      provider: input.provider?.toLowerCase() ?? 'generic',
      token,
      api_key_hash: hashSecret(apiKey),
      api_key_preview: keyPreview(apiKey),
      ip_allowlist: input.ipAllowlist ?? [],
    });
    ctx.state.log.info({ integrationId: integration.id }, 'integration created');

    ctx.status = 201;
    ctx.body = {
      id: integration.id,
      name: integration.name,
      provider: integration.provider,
      webhookUrl: webhookUrlFor(publicBaseUrl, integration.token),
      // The only time the key is ever shown: only its SHA-256 is stored.
      apiKey,
      ipAllowlist: integration.ip_allowlist,
      createdAt: integration.created_at.toISOString(),
    };
  });

  router.get('/api/integrations', async (ctx) => {
    const integrations = await listIntegrations(db, ctx.state.workspaceId!);
    ctx.body = { integrations: integrations.map((each) => integrationResource(each, publicBaseUrl)) };
  });

  router.get('/api/integrations/:id', async (ctx) => {
    const integration = await findIntegration(db, ctx.state.workspaceId!, String(ctx.params.id));
    if (!integration) {
      throw new AppError('not_found', 'Integration not found');
    }
    ctx.body = integrationResource(integration, publicBaseUrl);
  });

  router.patch('/api/integrations/:id', audited(db, 'integration.update'), async (ctx) => {
    const input = parseRequest(updateSchema, ctx.request.body);
    const integration = await updateIntegration(db, ctx.state.workspaceId!, String(ctx.params.id), {
      ...(input.name !== undefined && { name: input.name }),
      ...(input.ipAllowlist !== undefined && { ip_allowlist: input.ipAllowlist }),
      ...(input.enabled !== undefined && { enabled: input.enabled }),
      ...(input.recordingAuth !== undefined && {
        recording_auth_sealed: input.recordingAuth && secretBox.seal(JSON.stringify(input.recordingAuth)),
      }),
      ...(input.transcriptionLanguage !== undefined && {
        transcription_language: input.transcriptionLanguage,
      }),
    });
    if (!integration) {
      throw new AppError('not_found', 'Integration not found');
    }
    ctx.state.log.info({ integrationId: integration.id }, 'integration updated');
    ctx.body = integrationResource(integration, publicBaseUrl);
  });

  router.delete('/api/integrations/:id', audited(db, 'integration.delete'), async (ctx) => {
    const integration = await updateIntegration(db, ctx.state.workspaceId!, String(ctx.params.id), {
      deleted_at: new Date(),
      enabled: false,
    });
    if (!integration) {
      throw new AppError('not_found', 'Integration not found');
    }
    ctx.state.log.info({ integrationId: integration.id }, 'integration deleted');
    ctx.status = 204;
  });

  const auditKeyRotation = audited(db, 'integration.rotate_key');
  router.post('/api/integrations/:id/rotate-key', auditKeyRotation, async (ctx) => {
    const apiKey = generateApiKey();
    const integration = await updateIntegration(db, ctx.state.workspaceId!, String(ctx.params.id), {
      api_key_hash: hashSecret(apiKey),
      api_key_preview: keyPreview(apiKey),
    });
    if (!integration) {
      throw new AppError('not_found', 'Integration not found');
    }
    ctx.state.log.info({ integrationId: integration.id }, 'integration key rotated');
    ctx.body = { ...integrationResource(integration, publicBaseUrl), apiKey };
  });

  return router;
}
