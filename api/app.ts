import { bodyParser } from '@koa/bodyparser';
import Router from '@koa/router';
import type { Client } from '@temporalio/client';
import Koa from 'koa';
import type { Config } from '../core/config.js';
import type { Logger } from '../core/logger.js';
import { createAddressPolicy } from '../core/net/address-policy.js';
import type { SecretBox } from '../core/secret-box.js';
import type { Database } from '../db/database.js';
import type { CallDispatcher } from './call-dispatcher.js';
import type { AppState } from './context.js';
import { authenticateAdmin } from './middleware/authentication.js';
import { createTokenBucketLimiter } from './middleware/rate-limit.js';
import { requestContext } from './middleware/request-context.js';
import { assemblyAiWebhookRoutes } from './routes/assemblyai-webhook.js';
import { auditLogRoutes } from './routes/audit-log.js';
import { callRoutes } from './routes/calls.js';
import { dashboardRoutes } from './routes/dashboard.js';
import { exportRoutes } from './routes/exports.js';
import { scoringRoutes } from './routes/scoring.js';
import { healthRoutes } from './routes/health.js';
import { integrationRoutes } from './routes/integrations.js';
import { webhookEndpointRoutes } from './routes/webhook-endpoints.js';
import { webhookRoutes } from './routes/webhook.js';
import { workspaceRoutes } from './routes/workspaces.js';

export type AppDeps = {
  config: Pick<
    Config,
    | 'publicBaseUrl'
    | 'trustProxyHops'
    | 'webhookBodyLimit'
    | 'temporalTaskQueue'
    | 'allowPrivateHosts'
    | 'webhookRateLimitPerSecond'
    | 'webhookRateLimitBurst'
  >;
  client: Client;
  db: Database;
  dispatcher: CallDispatcher;
  logger: Logger;
  checkTemporal: () => Promise<void>;
  secretBox: SecretBox;
};

function mount(app: Koa<AppState>, router: Router<AppState>): void {
  app.use(router.routes());
  app.use(router.allowedMethods());
}

/** The HTTP application: the public webhook, health probes and the admin-key management API. */
export function createApp(deps: AppDeps): Koa<AppState> {
  const { config, db, logger } = deps;
  const app = new Koa<AppState>({
    proxy: config.trustProxyHops > 0,
    maxIpsCount: config.trustProxyHops,
  });

  app.use(requestContext(logger));
  mount(app, healthRoutes({ db, checkTemporal: deps.checkTemporal }));
  mount(
    app,
    webhookRoutes({
      db,
      dispatcher: deps.dispatcher,
      bodyLimit: config.webhookBodyLimit,
      rateLimiter: createTokenBucketLimiter({
        ratePerSecond: config.webhookRateLimitPerSecond,
        burst: config.webhookRateLimitBurst,
      }),
    }),
  );

  mount(app, assemblyAiWebhookRoutes({ db, client: deps.client, secretBox: deps.secretBox }));
  mount(app, dashboardRoutes());
  const management = new Router<AppState>();
  management.use(authenticateAdmin(db));
  management.use(bodyParser({ enableTypes: ['json'], jsonLimit: '1mb', encoding: 'utf-8' }));
  for (const routes of [
    // Before the calls routes, whose `/api/calls/:id` would otherwise take `export` for an id.
    exportRoutes({ db }),
    integrationRoutes({ db, publicBaseUrl: config.publicBaseUrl, secretBox: deps.secretBox }),
    callRoutes({ db, client: deps.client, taskQueue: config.temporalTaskQueue }),
    scoringRoutes({ db }),
    webhookEndpointRoutes({
      db,
      secretBox: deps.secretBox,
      addressPolicy: createAddressPolicy({
        allowPrivateHosts: config.allowPrivateHosts,
        label: 'webhook URL',
      }),
      client: deps.client,
      taskQueue: config.temporalTaskQueue,
    }),
    auditLogRoutes({ db }),
    workspaceRoutes({ db }),
  ]) {
    management.use(routes.routes(), routes.allowedMethods());
  }
  mount(app, management);

  return app;
}
