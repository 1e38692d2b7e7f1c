import type { Database } from '../database.js';
import type { JsonObject, Score } from '../schema.js';

/** The workspace's stored rubric override, or undefined when it uses the defaults. */
export async function findRubricOverride(db: Database, workspaceId: string): Promise<JsonObject | undefined> {
  const row = await db
    .selectFrom('scoring_rubrics')
    .select('override')
    .where('workspace_id', '=', workspaceId)
    .executeTakeFirst();

  return row?.override;
}

export async function saveRubricOverride(db: Database, workspaceId: string, override: JsonObject): Promise<void> {
  const serialised = JSON.stringify(override);

  await db
    .insertInto('scoring_rubrics')
    .values({ workspace_id: workspaceId, override: serialised })
    .onConflict((oc) => oc.column('workspace_id').doUpdateSet({ override: serialised, updated_at: new Date() }))
    .execute();
}

export async function deleteRubricOverride(db: Database, workspaceId: string): Promise<void> {
  await db.deleteFrom('scoring_rubrics').where('workspace_id', '=', workspaceId).execute();
}

/** Every scorecard made for a call, newest first. */
export async function listScores(db: Database, callId: string): Promise<Score[]> {
  return db
    .selectFrom('scores')
    .selectAll()
    .where('call_id', '=', callId)
    .orderBy('created_at', 'desc')
    .orderBy('id', 'desc')
    .execute();
}

/** The scorecard a given scoring request stored, if it ran before. */
export async function findScoreByRequest(
  db: Database,
  callId: string,
  requestId: string,
): Promise<Score | undefined> {
  return db
    .selectFrom('scores')
    .selectAll()
    .where('call_id', '=', callId)
    .where('request_id', '=', requestId)
    .executeTakeFirst();
}
