import { proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import type { PruneDeliveryLogResult } from '../activities/retention.js';

const { pruneDeliveryLog: prune } = proxyActivities<Activities>({
  startToCloseTimeout: '30 minutes',
  // The activity heartbeats after every batch; a worker that dies mid-prune is noticed soon.
  heartbeatTimeout: '2 minutes',
  retry: { initialInterval: '10 seconds', backoffCoefficient: 2, maximumInterval: '10 minutes' },
});

/**
 * Deletes outbound events past the retention period, with their deliveries and attempt log. Started
 * hourly by the `closermode-prune-delivery-log:<task queue>` schedule; safe to run by hand or
 * twice at once.
 */
export async function pruneDeliveryLog(): Promise<PruneDeliveryLogResult> {
  return prune();
}
