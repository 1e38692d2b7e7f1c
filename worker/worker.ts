import { fileURLToPath } from 'node:url';
import {
  type NativeConnection,
  Worker,
  bundleWorkflowCode,
  type WorkflowBundleOption,
} from '@temporalio/worker';
import type { Logger } from '../core/logger.js';
import type { Activities } from '../activities/index.js';

/** The workflow entry module, bundled by the worker for its isolated, deterministic sandbox. */
export const workflowsPath = fileURLToPath(new URL('../workflows/index.ts', import.meta.url));

export type CallWorkerOptions = {
  connection: NativeConnection;
  namespace: string;
  taskQueue: string;
  activities: Activities;
  logger: Logger;
  /** A prebuilt bundle (see {@link bundleWorkflows}); without it the worker bundles at start. */
  workflowBundle?: WorkflowBundleOption;
  /** Activities running at once in this worker (default 50). */
  maxConcurrentActivities?: number;
};

/** Bundles the workflows once, so several workers (or test files) can skip the bundling step. */
export async function bundleWorkflows(): Promise<{ code: string }> {
  return bundleWorkflowCode({ workflowsPath });
}

/** A worker that runs the call workflows and their activities on one task queue. */
export async function createCallWorker(options: CallWorkerOptions): Promise<Worker> {
  const worker = await Worker.create({
    connection: options.connection,
    namespace: options.namespace,
    taskQueue: options.taskQueue,
    activities: options.activities,
    ...(options.workflowBundle
      ? { workflowBundle: options.workflowBundle }
      : { workflowsPath }),
    maxConcurrentActivityTaskExecutions: options.maxConcurrentActivities ?? 50,
    // A stopping worker lets running activities finish (or heartbeat-time out) before it exits.
    shutdownGraceTime: '20 seconds',
  });
  options.logger.info({ taskQueue: options.taskQueue }, 'worker created');

  return worker;
}
