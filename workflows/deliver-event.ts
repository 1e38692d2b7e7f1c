import {
  ActivityFailure,
  condition,
  defineSignal,
  log,
  proxyActivities,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import type { AttemptInput, AttemptOutcome } from '../activities/deliveries.js';
import type { Activities } from '../activities/index.js';
import type { DeliveryAttemptTrigger } from '../db/schema.js';

/**
 * Delays before each attempt in production, in ms: now, then 5 s, 5 min, 30 min, 2 h, 5 h, 10 h
 * and 10 h, about 28 hours in all. Each delay but the first gets ±10 % jitter.
 */
export const defaultRetrySchedule: readonly number[] = [
  0,
  5_000,
  5 * 60_000,
  30 * 60_000,
  2 * 3_600_000,
  5 * 3_600_000,
  10 * 3_600_000,
  10 * 3_600_000,
];

const jitterFraction = 0.1;

export type DeliverEventInput = {
  eventId: string;
  endpointId: string;
  /** Delays before each attempt in ms; the production schedule when absent. */
  schedule?: readonly number[];
  /** Who asked for the first attempt: a replay requested by an admin is `manual`. */
  firstTrigger?: DeliveryAttemptTrigger;
};

export type DeliverEventResult = { status: AttemptOutcome; attempts: number };

/** Asks a waiting delivery to make its next attempt now instead of at its scheduled time. */
export const retryNowSignal = defineSignal('retryNow');

/** The workflow id of one event's delivery to one endpoint: starting it twice starts it once. */
export function deliveryWorkflowId(eventId: string, endpointId: string): string {
  return `delivery:${eventId}:${endpointId}`;
}

/**
 * The task queue of the HTTP attempts: the worker's own, suffixed. A worker of its own polls it,
 * so receivers that hang until the timeout hold none of the activity slots calls are scored in.
 */
export function deliveryTaskQueue(taskQueue: string): string {
  return `${taskQueue}-webhooks`;
}

// One HTTP attempt per activity, never retried by Temporal: the schedule below owns every retry,
// and a lost attempt (a worker dying mid-request) is simply the next scheduled one.
function attemptActivities() {
  return proxyActivities<Activities>({
    taskQueue: deliveryTaskQueue(workflowInfo().taskQueue),
    startToCloseTimeout: '25 seconds',
    retry: { maximumAttempts: 1 },
  });
}

// Bookkeeping in the database retries like the call workflow's database steps.
const { settleWebhookDelivery } = proxyActivities<Activities>({
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute' },
});

/** `Math.random` is seeded per run inside workflows, so the jitter replays identically. */
function withJitter(delayMs: number): number {
  if (delayMs <= 0) {
    return 0;
  }

  return Math.round(delayMs * (1 + jitterFraction * (2 * Math.random() - 1)));
}

/** One attempt; `lost` when not even its bookkeeping finished (a worker gone mid-request). */
async function attempt(input: AttemptInput): Promise<AttemptOutcome | 'lost'> {
  try {
    return await attemptActivities().attemptWebhookDelivery(input);
  } catch (error) {
    if (!(error instanceof ActivityFailure)) {
      throw error;
    }
    log.warn('delivery attempt lost', { eventId: input.eventId, endpointId: input.endpointId });

    return 'lost';
  }
}

/**
 * Delivers one event to one endpoint: an attempt now, then one after each delay of the schedule
 * until the endpoint answers 2xx, answers 410 (it is then disabled), or is disabled or deleted. A
 * `retryNow` signal cuts the current wait short. Each endpoint has a workflow of its own, so a
 * slow or dead endpoint delays no other endpoint and never the call's processing.
 */
export async function deliverEvent(input: DeliverEventInput): Promise<DeliverEventResult> {
  const { eventId, endpointId } = input;
  const schedule = input.schedule ?? defaultRetrySchedule;
  const delays = schedule.map(withJitter);
  let retryRequested = false;
  let attempts = 0;
  let outcome: AttemptOutcome | 'lost' = 'failed';
  setHandler(retryNowSignal, () => {
    retryRequested = true;
  });

  for (const [index, delay] of delays.entries()) {
    if (delay > 0) {
      await condition(() => retryRequested, delay);
    }
    const manual = retryRequested || (index === 0 && input.firstTrigger === 'manual');
    retryRequested = false;

    const following = delays[index + 1];
    outcome = await attempt({
      eventId,
      endpointId,
      trigger: manual ? 'manual' : 'scheduled',
      nextAttemptAt:
        following === undefined ? null : new Date(Date.now() + following).toISOString(),
    });
    attempts += 1;
    if (outcome !== 'failed' && outcome !== 'lost') {
      break;
    }
  }

  let succeeded = outcome === 'succeeded';
  // A recorded last attempt has already marked the delivery failed; a lost one could not.
  if (outcome === 'lost') {
    await settleWebhookDelivery({ eventId, endpointId, status: 'failed' });
  }

  // A retry asked for while the last attempt ran reached a workflow about to end; it gets its
  // attempt here rather than being lost.
  while (retryRequested) {
    retryRequested = false;
    outcome = await attempt({ eventId, endpointId, trigger: 'manual', nextAttemptAt: null });
    attempts += 1;
    succeeded ||= outcome === 'succeeded';
    if (outcome === 'lost') {
      await settleWebhookDelivery({ eventId, endpointId, status: 'failed' });
    }
  }

  if (succeeded) {
    return { status: 'succeeded', attempts };
  }

  return { status: outcome === 'lost' ? 'failed' : outcome, attempts };
}
