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

/** What an export leaves out: large columns it does not show are read as nulls. */
export type ExportColumns = { transcript: boolean; score: boolean };

// Every column of `calls` that exports may show; the utterances never are.
const shownColumns = [
  'id',
  'workspace_id',
  'integration_id',
  'external_id',
  'status',
  'failure_reason',
  'rep_name',
  'caller_phone',
  'duration',
  'call_date',
  'recording_url',
  'transcript_source',
  'metadata',
  'workflow_id',
  'workflow_started_at',
  'overall_score',
  'transcription_id',
  'created_at',
  'updated_at',
] as const;

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
  columns: ExportColumns = { transcript: true, score: true },
  batchSize: number = exportBatchSize,
): AsyncGenerator<Call[]> {
  let afterId: string | undefined;

  for (;;) {
    let query = db
      .selectFrom('calls')
      .select(shownColumns)
      // Columns left out are never read from disk, parsed or held: most of a page's garbage.
      .select((eb) => [
        eb.val(null).as('transcript_utterances'),
        columns.transcript ? eb.ref('transcript_text').as('transcript_text') : eb.val(null).as('transcript_text'),
        columns.score ? eb.ref('score').as('score') : eb.val(null).as('score'),
      ])
      .$castTo<Call>()
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
