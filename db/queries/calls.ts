import { sql } from 'kysely';
import type { Database } from '../database.js';
import type { Call, CallStatus, JsonObject, NewCall } from '../schema.js';
import { isUuid } from './integrations.js';

/**
 * Stores a call unless its external id is already known for the integration. The unique key makes
 * this safe under any number of concurrent deliveries: exactly one of them gets `created: true`.
 */
export async function insertCallIfNew(
  db: Database,
  values: NewCall,
): Promise<{ call: Call; created: boolean }> {
  const inserted = await db
    .insertInto('calls')
    .values(values)
    .onConflict((oc) => oc.columns(['integration_id', 'external_id']).doNothing())
    .returningAll()
    .executeTakeFirst();
  if (inserted) {
    return { call: inserted, created: true };
  }

  const existing = await db
    .selectFrom('calls')
    .selectAll()
    .where('integration_id', '=', values.integration_id)
    .where('external_id', '=', values.external_id)
    .executeTakeFirstOrThrow();

  return { call: existing, created: false };
}

export async function findCallById(db: Database, id: string): Promise<Call | undefined> {
  if (!isUuid(id)) {
    return undefined;
  }

  return db.selectFrom('calls').selectAll().where('id', '=', id).executeTakeFirst();
}

export async function findWorkspaceCall(
  db: Database,
  workspaceId: string,
  id: string,
): Promise<Call | undefined> {
  if (!isUuid(id)) {
    return undefined;
  }

  return db
    .selectFrom('calls')
    .selectAll()
    .where('workspace_id', '=', workspaceId)
    .where('id', '=', id)
    .executeTakeFirst();
}

export type CallFilter = {
  workspaceId: string;
  integrationId?: string | undefined;
  status?: CallStatus | undefined;
};

/**
 * Calls newest first, `limit` of them after the call `afterId` (the last of the previous page).
 * The cursor is compared as a row value in SQL, so ties in `created_at` are ordered by id and no
 * precision is lost to JavaScript dates.
 */
export async function listCalls(
  db: Database,
  filter: CallFilter & { limit: number; afterId?: string | undefined },
): Promise<Call[]> {
  let query = db
    .selectFrom('calls')
    .selectAll()
    .where('workspace_id', '=', filter.workspaceId)
    .orderBy('created_at', 'desc')
    .orderBy('id', 'desc')
    .limit(filter.limit);

  if (filter.integrationId) {
    query = query.where('integration_id', '=', filter.integrationId);
  }
  if (filter.status) {
    query = query.where('status', '=', filter.status);
  }
  if (filter.afterId) {
    query = query.where(
      sql<boolean>`(created_at, id) < (select c.created_at, c.id from calls c where c.id = ${filter.afterId})`,
    );
  }

  return query.execute();
}

export async function setCallStatus(
  db: Database,
  id: string,
  status: CallStatus,
  failureReason: string | null = null,
): Promise<Call | undefined> {
  return db
    .updateTable('calls')
    .set({ status, failure_reason: failureReason, updated_at: new Date() })
    .where('id', '=', id)
    .returningAll()
    .executeTakeFirst();
}

export async function markWorkflowStarted(db: Database, id: string): Promise<void> {
  await db
    .updateTable('calls')
    .set({ workflow_started_at: new Date() })
    .where('id', '=', id)
    .where('workflow_started_at', 'is', null)
    .execute();
}

/** Calls stored before `before` whose workflow Temporal has not yet accepted, oldest first. */
export async function findUnstartedCalls(db: Database, before: Date, limit: number): Promise<Call[]> {
  return db
    .selectFrom('calls')
    .selectAll()
    .where('workflow_started_at', 'is', null)
    .where('created_at', '<', before)
    .orderBy('created_at', 'asc')
    .limit(limit)
    .execute();
}

/**
 * Records a scorecard: appended to the call's score history and made its current score. The caller
 * decides the call's status (a re-score of a scored call keeps `scored`).
 */
export async function saveScore(
  db: Database,
  callId: string,
  score: {
    scorer: string;
    scorerVersion: string;
    overall: number | null;
    scorecard: JsonObject;
    /** A re-score request's id: the same request stores one scorecard however often it runs. */
    requestId?: string | undefined;
  },
): Promise<void> {
  const serialised = JSON.stringify(score.scorecard);

  await db.transaction().execute(async (trx) => {
    const inserted = await trx
      .insertInto('scores')
      .values({
        call_id: callId,
        scorer: score.scorer,
        scorer_version: score.scorerVersion,
        overall: score.overall,
        scorecard: serialised,
        request_id: score.requestId ?? null,
      })
      .onConflict((oc) => oc.columns(['call_id', 'request_id']).doNothing())
      .returning('id')
      .executeTakeFirst();
    if (!inserted) {
      return;
    }

    await trx
      .updateTable('calls')
      .set({
        score: serialised,
        overall_score: score.overall,
        status: 'scored',
        failure_reason: null,
        updated_at: new Date(),
      })
      .where('id', '=', callId)
      .execute();
  });
}
