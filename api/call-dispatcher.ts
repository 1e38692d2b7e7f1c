import type { Client } from '@temporalio/client';
import { startWorkflowOnce } from '../core/temporal.js';
import type { Logger } from '../core/logger.js';
import type { Database } from '../db/database.js';
import { findUnstartedCalls, markWorkflowStarted } from '../db/queries/calls.js';
import type { Call } from '../db/schema.js';
import type { processCall } from '../workflows/index.js';

export type CallDispatcherOptions = {
  db: Database;
  client: Client;
  taskQueue: string;
  logger: Logger;
  /** How long one start may take before the call is left to the recovery loop (default 5 s). */
  startTimeoutMs?: number;
  /** Workflow starts in flight at once (default 32). */
  maxConcurrentStarts?: number;
  /** Calls waiting in memory for a start; past this the recovery loop picks them up (default 5,000). */
  maxQueued?: number;
  /** How often the recovery loop looks for calls whose workflow has not started (default 5 s). */
  recoveryIntervalMs?: number;
  /** Calls younger than this are left to the request that stored them (default 10 s). */
  recoveryGraceMs?: number;
};

export type CallDispatcher = {
  /** Queues the start of a stored call's workflow and returns at once. Never throws. */
  dispatch(call: Call): void;
  /** Starts the workflows of stored calls that have none yet; resolves how many it started. */
  recoverPending(): Promise<number>;
  /** Runs {@link recoverPending} every interval until {@link stop}. */
  startRecoveryLoop(): void;
  /** Stops the loop and waits for starts in flight; queued calls are left to the next process. */
  stop(): Promise<void>;
  /** Whether the last attempt to reach Temporal succeeded. */
  temporalReachable(): boolean;
};

/**
 * Hands stored calls to Temporal. The database row is the durable record, so the webhook answers
 * as soon as the call is stored and the start happens right after, with bounded concurrency. If
 * Temporal cannot be reached, or this process stops first, the call waits unstarted until a
 * recovery loop (in any api process) starts it. Starting twice is harmless: the workflow id is
 * derived from the call, and a running or finished workflow is never duplicated.
 */
export function createCallDispatcher(options: CallDispatcherOptions): CallDispatcher {
  const { db, client, taskQueue, logger } = options;
  const startTimeoutMs = options.startTimeoutMs ?? 5_000;
  const maxConcurrentStarts = options.maxConcurrentStarts ?? 32;
  const maxQueued = options.maxQueued ?? 5_000;
  const recoveryIntervalMs = options.recoveryIntervalMs ?? 5_000;
  const recoveryGraceMs = options.recoveryGraceMs ?? 10_000;

  let reachable = true;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let recovering: Promise<number> | undefined;
  const queue: Array<{ call: Call; settle: (started: boolean) => void }> = [];
  const pendingIds = new Set<string>();
  const inFlight = new Set<Promise<void>>();

  // A finished call is never processed again by a late or repeated start.
  async function startWorkflow(call: Call): Promise<void> {
    await startWorkflowOnce<typeof processCall>(
      client,
      'processCall',
      {
        taskQueue,
        workflowId: call.workflow_id,
        args: [
          {
            callId: call.id,
            integrationId: call.integration_id,
            externalId: call.external_id,
            repName: call.rep_name,
          },
        ],
      },
      startTimeoutMs,
    );
    await markWorkflowStarted(db, call.id);
  }

  function pump(): void {
    while (reachable && !stopped && inFlight.size < maxConcurrentStarts && queue.length > 0) {
      const { call, settle } = queue.shift()!;
      const attempt = startWorkflow(call).then(
        () => {
          reachable = true;
          settle(true);
        },
        (error: unknown) => {
          if (reachable) {
            logger.warn({ err: error, callId: call.id }, 'workflow start deferred');
          }
          reachable = false;
          settle(false);
        },
      );
      const tracked = attempt.finally(() => {
        inFlight.delete(tracked);
        pendingIds.delete(call.id);
        pump();
      });
      inFlight.add(tracked);
    }

    // While Temporal is unreachable the queue is not held in memory: the rows are the queue.
    if (!reachable || stopped) {
      for (const { call, settle } of queue.splice(0)) {
        pendingIds.delete(call.id);
        settle(false);
      }
    }
  }

  function enqueue(call: Call): Promise<boolean> {
    if (pendingIds.has(call.id) || queue.length >= maxQueued || !reachable || stopped) {
      return Promise.resolve(false);
    }

    pendingIds.add(call.id);
    const started = new Promise<boolean>((settle) => queue.push({ call, settle }));
    pump();

    return started;
  }

  async function recoverOnce(): Promise<number> {
    // A recovery pass is also how an unreachable Temporal is probed again.
    reachable = true;
    const before = new Date(Date.now() - recoveryGraceMs);
    const pending = (await findUnstartedCalls(db, before, 500)).filter(
      (call) => !pendingIds.has(call.id),
    );
    const results = await Promise.all(pending.map(enqueue));
    const started = results.filter(Boolean).length;
    if (started > 0) {
      logger.info({ started, waiting: pending.length - started }, 'workflows recovered');
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
          if (!stopped) {
            scheduleNext();
          }
        });
    }, recoveryIntervalMs);
    timer.unref();
  }

  return {
    dispatch(call) {
      void enqueue(call);
    },
    recoverPending,
    startRecoveryLoop: scheduleNext,
    async stop() {
      stopped = true;
      clearTimeout(timer);
      pump();
      await recovering?.catch(() => undefined);
      await Promise.all(inFlight);
    },
    temporalReachable: () => reachable,
  };
}
