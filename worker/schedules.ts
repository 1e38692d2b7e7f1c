/**
 * The service's recurring work, as Temporal schedules: each runs once at a time across every
 * worker, and operators see its runs, and can pause or trigger it, in the Temporal UI.
 */
import {
  ScheduleAlreadyRunning,
  ScheduleNotFoundError,
  ScheduleOverlapPolicy,
  type Client,
  type ScheduleOptionsAction,
  type ScheduleSpec,
} from '@temporalio/client';
import type { Logger } from '../core/logger.js';

/**
 * The schedule that prunes the outbound delivery log of the deployment serving `taskQueue`. One per
 * task queue, because deployments that share a Temporal namespace keep separate databases.
 */
export function pruneDeliveryLogScheduleId(taskQueue: string): string {
  return `closermode-prune-delivery-log:${taskQueue}`;
}

/**
 * Creates the delivery-log pruning schedule, or brings an existing one up to date with this
 * worker's task queue; with `retentionDays` 0 it deletes the schedule instead, so nothing is pruned.
 * Every worker calls it at start, so a change of configuration takes effect on the next start.
 */
export async function ensurePruneDeliveryLogSchedule(
  client: Client,
  options: { taskQueue: string; retentionDays: number; logger: Logger },
): Promise<void> {
  const scheduleId = pruneDeliveryLogScheduleId(options.taskQueue);
  const handle = client.schedule.getHandle(scheduleId);
  if (options.retentionDays === 0) {
    await handle.delete().catch((error: unknown) => {
      if (!(error instanceof ScheduleNotFoundError)) {
        throw error;
      }
    });
    options.logger.info({ scheduleId }, 'delivery log kept forever');
    return;
  }

  const spec: ScheduleSpec = { intervals: [{ every: '1 hour' }] };
  const action: ScheduleOptionsAction = {
    type: 'startWorkflow',
    workflowType: 'pruneDeliveryLog',
    workflowId: `${scheduleId}:run`,
    taskQueue: options.taskQueue,
    args: [],
  };
  try {
    await client.schedule.create({
      scheduleId,
      spec,
      action,
      policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: '1 hour' },
    });
  } catch (error) {
    if (!(error instanceof ScheduleAlreadyRunning)) {
      throw error;
    }
    await handle.update((previous) => ({ ...previous, spec, action }));
  }
  options.logger.info(
    { scheduleId, retentionDays: options.retentionDays },
    'delivery log pruning scheduled',
  );
}
