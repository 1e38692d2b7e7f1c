import { getHeapStatistics } from 'node:v8';
import { Client, Connection } from '@temporalio/client';
import { createApp } from '../api/app.js';
import {
  createCallDispatcher,
  type CallDispatcher,
  type CallDispatcherOptions,
} from '../api/call-dispatcher.js';
import { listen, type RunningServer } from '../api/server.js';
import type { Config } from '../core/config.js';
import type { Logger } from '../core/logger.js';
import { createSecretBox, resolveSecretsKey } from '../core/secret-box.js';
import type { Database } from '../db/database.js';

export type ApiService = {
  server: RunningServer;
  dispatcher: CallDispatcher;
  client: Client;
  close(): Promise<void>;
};

/**
 * The api process: HTTP server, workflow dispatcher and its recovery loop. The Temporal connection
 * is lazy, so the api starts and accepts calls while Temporal is still down.
 */
export async function startApiService(options: {
  config: Config;
  db: Database;
  logger: Logger;
  temporalAddress: string;
  /** Tuning of the workflow dispatcher (tests shorten the recovery loop's timings). */
  dispatcher?: Pick<CallDispatcherOptions, 'recoveryIntervalMs' | 'recoveryGraceMs'>;
}): Promise<ApiService> {
  const { config, db, logger } = options;
  const connection = Connection.lazy({ address: options.temporalAddress });
  const client = new Client({ connection, namespace: config.temporalNamespace });
  const dispatcher = createCallDispatcher({
    db,
    client,
    taskQueue: config.temporalTaskQueue,
    logger,
    ...options.dispatcher,
  });

  const app = createApp({
    config,
    client,
    db,
    dispatcher,
    logger,
    secretBox: createSecretBox(await resolveSecretsKey(config)),
    checkTemporal: async () => {
      await connection.withDeadline(Date.now() + 1_500, () =>
        connection.workflowService.getSystemInfo({}),
      );
    },
  });
  const server = await listen(app, config.port, config.host);
  dispatcher.startRecoveryLoop();
  // The heap limit decides how much garbage V8 lets pile up (see NODE_OPTIONS in docker-compose.yml).
  const heapLimitMb = Math.round(getHeapStatistics().heap_size_limit / 1024 / 1024);
  logger.info({ port: server.port, heapLimitMb }, 'api listening');

  return {
    server,
    dispatcher,
    client,
    async close() {
      await server.close();
      await dispatcher.stop();
      await connection.close();
    },
  };
}
