import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Worker, type WorkflowBundleOption } from '@temporalio/worker';
import { createDeliveryActivities } from '../activities/deliveries.js';
import { createEventPublisher } from '../activities/event-publisher.js';
import { createActivities } from '../activities/index.js';
import type { Config } from '../core/config.js';
import type { Logger } from '../core/logger.js';
import { createAddressPolicy } from '../core/net/address-policy.js';
import { ensureSearchAttributes } from '../core/temporal.js';
import type { Database } from '../db/database.js';
import { createConfiguredScorer, createRecordingDeps } from '../worker/dependencies.js';
import { installTemporalRuntime } from '../worker/runtime-logger.js';
import { ensurePruneDeliveryLogSchedule } from '../worker/schedules.js';
import { createCallWorker } from '../worker/worker.js';
import { deliveryTaskQueue } from '../workflows/deliver-event.js';

export type WorkerService = {
  worker: Worker;
  /** Settles when the worker has stopped. */
  running: Promise<void>;
  close(): Promise<void>;
};

/** The worker process: polls the task queue and runs workflows and activities. */
export async function startWorkerService(options: {
  config: Config;
  db: Database;
  logger: Logger;
  temporalAddress: string;
  workflowBundle?: WorkflowBundleOption;
}): Promise<WorkerService> {
  const { config, db, logger } = options;
  installTemporalRuntime(logger);

  const admin = await Connection.connect({ address: options.temporalAddress });
  try {
    await ensureSearchAttributes(admin, config.temporalNamespace);
  } finally {
    await admin.close();
  }

  const connection = await NativeConnection.connect({ address: options.temporalAddress });
  // Activities start the outbound webhook deliveries, through a client of the worker's own.
  const clientConnection = Connection.lazy({ address: options.temporalAddress });
  const client = new Client({ connection: clientConnection, namespace: config.temporalNamespace });
  await ensurePruneDeliveryLogSchedule(client, {
    taskQueue: config.temporalTaskQueue,
    retentionDays: config.deliveryLogRetentionDays,
    logger,
  });
  const recordingDeps = await createRecordingDeps(config, db);
  const webhookAddressPolicy = createAddressPolicy({
    allowPrivateHosts: config.allowPrivateHosts,
    label: 'webhook URL',
  });
  const worker = await createCallWorker({
    connection,
    namespace: config.temporalNamespace,
    taskQueue: config.temporalTaskQueue,
    activities: createActivities({
      ...recordingDeps,
      db,
      events: createEventPublisher({
        db,
        client,
        taskQueue: config.temporalTaskQueue,
        logger,
        retrySchedule: config.webhookRetryScheduleMs,
      }),
      webhookAddressPolicy,
      scorer: createConfiguredScorer(config),
      deliveryLogRetentionDays: config.deliveryLogRetentionDays,
    }),
    logger,
    ...(options.workflowBundle && { workflowBundle: options.workflowBundle }),
  });

  // Webhook attempts wait on receivers, not on this process: many may be in flight, and on a
  // worker of their own they never take a slot that call processing needs.
  const deliveryWorker = await Worker.create({
    connection,
    namespace: config.temporalNamespace,
    taskQueue: deliveryTaskQueue(config.temporalTaskQueue),
    activities: createDeliveryActivities({
      db,
      secretBox: recordingDeps.secretBox,
      webhookAddressPolicy,
    }),
    maxConcurrentActivityTaskExecutions: 200,
    shutdownGraceTime: '20 seconds',
  });
  const workers = [worker, deliveryWorker];
  const stopAll = () => {
    for (const each of workers) {
      if (each.getState() === 'RUNNING') {
        each.shutdown();
      }
    }
  };

  // Either worker stopping stops the other, so the process never runs half a worker.
  const running = Promise.allSettled(workers.map((each) => each.run().finally(stopAll))).then(
    async (results) => {
      await Promise.all([connection.close(), clientConnection.close()]);
      const failure = results.find((result) => result.status === 'rejected');
      if (failure) {
        throw failure.reason;
      }
    },
  );
  running.catch((error: unknown) => logger.error({ err: error }, 'worker stopped with an error'));

  return {
    worker,
    running,
    async close() {
      stopAll();
      await running.catch(() => undefined);
    },
  };
}
