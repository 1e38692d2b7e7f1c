import path from 'node:path';
import { bootstrapDefaultWorkspace } from '../core/bootstrap.js';
import type { Config } from '../core/config.js';
import type { Logger } from '../core/logger.js';
import { databaseOptionsFor, openDatabase, type DatabaseHandle } from '../db/database.js';
import { migrateToLatest } from '../db/migrate.js';
import { installTemporalRuntime } from '../worker/runtime-logger.js';
import { startApiService, type ApiService } from './api-service.js';
import { startWorkerService, type WorkerService } from './worker-service.js';
import { findTemporalCli, startTemporalDevServer, type TemporalDevServer } from './temporal-dev-server.js';

/** Runs `fn` for each shutdown step in order, logging (not throwing) what fails. */
async function closeAll(logger: Logger, steps: Array<[string, (() => Promise<void>) | undefined]>) {
  for (const [name, step] of steps) {
    try {
      await step?.();
    } catch (error) {
      logger.warn({ err: error, step: name }, 'shutdown step failed');
    }
  }
}

/**
 * `closermode dev`: everything in one process. A Temporal dev server (unless `TEMPORAL_ADDRESS`
 * names one), the embedded database (unless `DATABASE_URL` names a server), migrations, the
 * default workspace and its admin key, the worker and the api.
 */
export async function runDev(config: Config, env: NodeJS.ProcessEnv, logger: Logger): Promise<void> {
  let temporal: TemporalDevServer | undefined;
  let database: DatabaseHandle | undefined;
  let worker: WorkerService | undefined;
  let api: ApiService | undefined;

  const shutdown = async () => {
    await closeAll(logger, [
      ['api', api?.close],
      ['worker', worker?.close],
      ['database', database?.close],
      ['temporal', temporal?.stop],
    ]);
  };

  installTemporalRuntime(logger);

  try {
    let temporalAddress = config.temporalAddress;
    if (!temporalAddress) {
      const cliPath = await findTemporalCli({ explicitPath: config.temporalCliPath, env, logger });
      temporal = await startTemporalDevServer({
        cliPath,
        port: config.temporalPort,
        uiPort: config.temporalUiPort,
        dbFile: path.join(config.dataDir, 'temporal', 'temporal.sqlite'),
        namespace: config.temporalNamespace,
        logger,
      });
      temporalAddress = temporal.address;
      logger.info({ address: temporalAddress, ui: temporal.uiUrl }, 'temporal dev server started');
    }

    database = await openDatabase(databaseOptionsFor(config));
    await migrateToLatest(database.db);
    const bootstrap = await bootstrapDefaultWorkspace(database.db, config.dataDir);

    worker = await startWorkerService({ config, db: database.db, logger, temporalAddress });
    api = await startApiService({ config, db: database.db, logger, temporalAddress });

    printBanner({ config, temporal, database, keyFile: bootstrap.keyFile, keyCreated: bootstrap.keyCreated });
  } catch (error) {
    await shutdown();
    throw error;
  }

  await new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      logger.info({ signal }, 'shutting down');
      resolve();
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  await shutdown();
}

function printBanner(info: {
  config: Config;
  temporal: TemporalDevServer | undefined;
  database: DatabaseHandle;
  keyFile: string;
  keyCreated: boolean;
}): void {
  const { config } = info;
  const lines = [
    '',
    'closermode is running',
    `  api            ${config.publicBaseUrl}`,
    `  temporal ui    ${info.temporal?.uiUrl ?? '(external Temporal: see its own UI)'}`,
    `  database       ${info.database.kind === 'pglite' ? `embedded (${path.join(config.dataDir, 'pglite')})` : 'PostgreSQL (DATABASE_URL)'}`,
    `  admin key      ${info.keyFile}${info.keyCreated ? ' (new)' : ''}`,
    '',
    'create an integration:  npx closermode integrations create --name "My dialer"',
    '',
  ];
  process.stderr.write(`${lines.join('\n')}\n`);
}
