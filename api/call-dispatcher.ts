import { WorkflowExecutionAlreadyStartedError, type Client } from '@temporalio/client';
import type { Logger } from '../core/logger.js';
import type { Database } from '../db/database.js';
import { findUnstartedCalls, markWorkflowStarted } from '../db/queries/calls.js';
import type { Call } from '../db/schema.js';
import type { processCall } from '../workflows/index.js';
import {
  callExternalIdKey,
  callIntegrationIdKey,
  callRepNameKey,
  callStatusKey,
} from '../workflows/search-attributes.js';

export type CallDispatcherOptions = {
  db: Database;
  client: Client;
  taskQueue: string;
  logger: Logger;
  /** How long one start may take before the call is left to the recovery loop (default 3 s). */
  startTimeoutMs?: number;
  /** How often the recovery loop looks for calls whose workflow has not started (default 5 s). */
  recoveryIntervalMs?: number;
  /** Calls younger than this are left to the request that stored them (default 2 s). */
  recoveryGraceMs?: number;
};

export type CallDispatcher = {
  /** Starts the call's workflow; resolves whether Temporal accepted it. Never throws. */
  dispatch(call: Call): Promise<boolean>;
  /** Starts the workflows of stored calls that have none yet; resolves how many it started. */
  recoverPending(): Promise<number>;
  /** Runs {@link recoverPending} every interval until {@link stop}. */
  startRecoveryLoop(): void;
  stop(): Promise<void>;
  /** Whether the last attempt to reach Temporal succeeded. */
  temporalReachable(): boolean;
};

// Search attribute values are bounded by the server; long rep names are cut, never refused.
const maxKeywordLength = 255;

/**
 * Hands stored calls to Temporal. The database row is the durable record: if Temporal cannot be
 * reached the call waits, unstarted, until the recovery loop starts it. Starting twice is harmless:
 * the workflow id is derived from the call and a running or finished workflow is never duplicated.
 */
export function createCallDispatcher(options: CallDispatcherOptions): CallDispatcher {
  const { db, client, taskQueue, logger } = options;
  const startTimeoutMs = options.startTimeoutMs ?? 3_000;
  const recoveryIntervalMs = options.recoveryIntervalMs ?? 5_000;
  const recoveryGraceMs = options.recoveryGraceMs ?? 2_000;

  let reachable = true;
  let timer: NodeJS.Timeout | undefined;
  let recovering: Promise<number> | undefined;

  async function startWorkflow(call: Call): Promise<void> {
    try {
      await client.connection.withDeadline(Date.now() + startTimeoutMs, () =>
        client.workflow.start<typeof processCall>('processCall', {
          taskQueue,
          workflowId: call.workflow_id,
          args: [{ callId: call.id }],
          workflowIdConflictPolicy: 'USE_EXISTING',
          // A finished call is never processed again by a late or repeated start.
          workflowIdReusePolicy: 'REJECT_DUPLICATE',
          typedSearchAttributes: [
            { key: callIntegrationIdKey, value: call.integration_id },
            { key: callExternalIdKey, value: call.external_id.slice(0, maxKeywordLength) },
            { key: callStatusKey, value: 'queued' },
            ...(call.rep_name
              ? [{ key: callRepNameKey, value: call.rep_name.slice(0, maxKeywordLength) }]
              : []),
          ],
        }),
      );
    } catch (error) {
      if (!(error instanceof WorkflowExecutionAlreadyStartedError)) {
        throw error;
      }
    }

    await markWorkflowStarted(db, call.id);
  }

  async function dispatch(call: Call): Promise<boolean> {
    // While Temporal is known to be down, requests do not wait for it; the loop catches up.
    if (!reachable) {
      return false;
    }

    try {
      await startWorkflow(call);

      return true;
    } catch (error) {
      reachable = false;
      logger.warn({ err: error, callId: call.id }, 'workflow start deferred');

      return false;
    }
  }

  async function recoverOnce(): Promise<number> {
    const pending = await findUnstartedCalls(db, new Date(Date.now() - recoveryGraceMs), 100);
    let started = 0;

    for (const call of pending) {
      try {
        await startWorkflow(call);
        started += 1;
        reachable = true;
      } catch (error) {
        reachable = false;
        logger.warn({ err: error, pending: pending.length }, 'workflow recovery paused');
        break;
      }
    }
    if (started > 0) {
      logger.info({ started }, 'workflows recovered');
    }
    if (pending.length === 0) {
      reachable = true;
    }

    return started;
  }

  function recoverPending(): Promise<number> {
    recovering ??= recoverOnce().finally(() => {
      recovering = undefined;
    });

    return recovering;
  }

  function scheduleNext(): void {
    timer = setTimeout(() => {
      recoverPending()
        .catch((error: unknown) => logger.error({ err: error }, 'workflow recovery failed'))
        .finally(() => {
          if (timer) {
            scheduleNext();
          }
        });
    }, recoveryIntervalMs);
    timer.unref();
  }

  return {
    dispatch,
    recoverPending,
    startRecoveryLoop: scheduleNext,
    async stop() {
      clearTimeout(timer);
      timer = undefined;
      await recovering;
    },
    temporalReachable: () => reachable,
  };
}
