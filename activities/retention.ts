/**
 * Keeps the outbound delivery log from growing without end: events older than the retention
 * period, once none of their deliveries is pending, go with their deliveries and attempts.
 */
import { Context } from '@temporalio/activity';
import type { Database } from '../db/database.js';
import { deleteSettledEventsBefore } from '../db/queries/events.js';

export type RetentionActivityDeps = {
  db: Database;
  /** Days settled events are kept; 0 keeps them forever (default 30). */
  deliveryLogRetentionDays?: number;
};

export type PruneDeliveryLogResult = {
  /** Events deleted, each with its deliveries and attempt log. */
  deleted: number;
  /** The cut-off: events created before it were eligible. Null when retention is off. */
  olderThan: string | null;
};

/** Events deleted per statement: few enough that each delete holds its locks for a moment. */
const pruneBatchSize = 500;

const dayMs = 86_400_000;

export function createRetentionActivities(deps: RetentionActivityDeps) {
  const retentionDays = deps.deliveryLogRetentionDays ?? 30;

  return {
    /** Deletes settled events past the retention period, in batches, heartbeating between them. */
    async pruneDeliveryLog(): Promise<PruneDeliveryLogResult> {
      if (retentionDays === 0) {
        return { deleted: 0, olderThan: null };
      }

      const olderThan = new Date(Date.now() - retentionDays * dayMs);
      let deleted = 0;
      for (;;) {
        const batch = await deleteSettledEventsBefore(deps.db, olderThan, pruneBatchSize);
        deleted += batch;
        if (batch < pruneBatchSize) {
          break;
        }
        Context.current().heartbeat(deleted);
      }
      if (deleted > 0) {
        Context.current().log.info('delivery log pruned', { deleted, olderThan });
      }

      return { deleted, olderThan: olderThan.toISOString() };
    },
  };
}
