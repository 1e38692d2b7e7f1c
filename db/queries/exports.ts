import { sql } from 'kysely';
import type { Database } from '../database.js';
import type { Call, CallStatus } from '../schema.js';

export type ExportFilter = {
  workspaceId: string;
  /** Calls whose call date is at or after this instant. */
  from?: Date | undefined;
  /** Calls whose call date is before this instant. */
  to?: Date | undefined;
  integrationId?: string | undefined;
  status?: CallStatus | undefined;
};

/** Rows per page: large enough to keep round trips cheap, small enough to keep memory flat. */
export const exportBatchSize = 250;

/**
 * Every matching call in call-date order, one keyset page at a time, so an export of any size
 * holds one page in memory. The cursor is compared as a row value in SQL, as the calls list does,
 * so microsecond timestamps are never rounded through JavaScript dates. Works on PGlite, which has
 * no server-side cursors.
 */
export async function* exportCallPages(
  db: Database,
  filter: ExportFilter,
  batchSize: number = exportBatchSize,
): AsyncGenerator<Call[]> {
  let afterId: string | undefined;

  for (;;) {
    let query = db
      .selectFrom('calls')
      .selectAll()
      .where('workspace_id', '=', filter.workspaceId)
      .orderBy('call_date', 'asc')
      .orderBy('id', 'asc')
      .limit(batchSize);

    if (filter.from) {
      query = query.where('call_date', '>=', filter.from);
    }
    if (filter.to) {
      query = query.where('call_date', '<', filter.to);
    }
    if (filter.integrationId) {
      query = query.where('integration_id', '=', filter.integrationId);
    }
    if (filter.status) {
      query = query.where('status', '=', filter.status);
    }
    if (afterId) {
      query = query.where(
        sql<boolean>`(call_date, id) > (select c.call_date, c.id from calls c where c.id = ${afterId})`,
      );
    }

    const page = await query.execute();
    if (page.length > 0) {
      yield page;
    }
    if (page.length < batchSize) {
      return;
    }
    afterId = page.at(-1)!.id;
  }
}
