import { fileURLToPath } from 'node:url';
import type { Context as ActivityContext } from '@temporalio/activity';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import {
  type ActivityInterceptors,
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

/**
 * An activity still running when the shutdown grace time ends is cancelled with the reason
 * `WORKER_SHUTDOWN`. Activities read cancellation as the workflow giving up (a download then fails
 * as `aborted`, which is final), so whatever they throw then is replaced by a retryable failure:
 * the attempt is handed back and another worker runs it again.
 */
function handBackOnShutdown(context: ActivityContext): ActivityInterceptors {
  return {
    inbound: {
      async execute(input, next) {
        try {
          return await next(input);
        } catch (error) {
          const reason: unknown = context.cancellationSignal.reason;
          if (reason instanceof CancelledFailure && reason.message === 'WORKER_SHUTDOWN') {
            throw ApplicationFailure.create({
              message: 'the worker stopped before the activity finished',
              type: 'WorkerShutdown',
              nonRetryable: false,
              cause: error instanceof Error ? error : undefined,
            });
          }
          throw error;
        }
      },
    },
  };
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
    // A stopping worker lets running activities finish before it exits; those still running after
    // this are cancelled and handed back (see handBackOnShutdown).
    shutdownGraceTime: '20 seconds',
    interceptors: { activity: [handBackOnShutdown] },
  });
  options.logger.info({ taskQueue: options.taskQueue }, 'worker created');

  return worker;
}
