import type { Database } from '../database.js';
import type { Integration, IntegrationUpdate, NewIntegration } from '../schema.js';

const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Whether text is a UUID; uuid columns reject anything else with an error rather than no rows. */
export function isUuid(text: string): boolean {
  return uuidPattern.test(text);
}

export async function insertIntegration(db: Database, values: NewIntegration): Promise<Integration> {
  return db.insertInto('integrations').values(values).returningAll().executeTakeFirstOrThrow();
}

/** The live integration whose webhook URL carries this token. */
export async function findIntegrationByToken(
  db: Database,
  token: string,
): Promise<Integration | undefined> {
  if (!isUuid(token)) {
    return undefined;
  }

  return db
    .selectFrom('integrations')
    .selectAll()
    .where('token', '=', token.toLowerCase())
    .where('deleted_at', 'is', null)
    .executeTakeFirst();
}

export async function findIntegration(
  db: Database,
  workspaceId: string,
  id: string,
): Promise<Integration | undefined> {
  if (!isUuid(id)) {
    return undefined;
  }

  return db
    .selectFrom('integrations')
    .selectAll()
    .where('workspace_id', '=', workspaceId)
    .where('id', '=', id)
    .where('deleted_at', 'is', null)
    .executeTakeFirst();
}

/** Any integration by id, deleted or not: for workers processing calls it already accepted. */
export async function findIntegrationById(db: Database, id: string): Promise<Integration | undefined> {
  return db.selectFrom('integrations').selectAll().where('id', '=', id).executeTakeFirst();
}

export async function listIntegrations(db: Database, workspaceId: string): Promise<Integration[]> {
  return db
    .selectFrom('integrations')
    .selectAll()
    .where('workspace_id', '=', workspaceId)
    .where('deleted_at', 'is', null)
    .orderBy('created_at', 'asc')
    .orderBy('id', 'asc')
    .execute();
}

export async function updateIntegration(
  db: Database,
  workspaceId: string,
  id: string,
  changes: IntegrationUpdate,
): Promise<Integration | undefined> {
  if (!isUuid(id)) {
    return undefined;
  }

  return db
    .updateTable('integrations')
    .set({ ...changes, updated_at: new Date() })
    .where('workspace_id', '=', workspaceId)
    .where('id', '=', id)
    .where('deleted_at', 'is', null)
    .returningAll()
    .executeTakeFirst();
}
