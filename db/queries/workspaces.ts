import type { Database } from '../database.js';
import type { AdminKey, Workspace } from '../schema.js';

export async function findWorkspaceByName(db: Database, name: string): Promise<Workspace | undefined> {
  return db.selectFrom('workspaces').selectAll().where('name', '=', name).executeTakeFirst();
}

/** Creates the workspace unless one of that name exists; returns it and whether it is new. */
export async function ensureWorkspace(
  db: Database,
  name: string,
): Promise<{ workspace: Workspace; created: boolean }> {
  const inserted = await db
    .insertInto('workspaces')
    .values({ name })
    .onConflict((oc) => oc.column('name').doNothing())
    .returningAll()
    .executeTakeFirst();
  if (inserted) {
    return { workspace: inserted, created: true };
  }

  const existing = await db
    .selectFrom('workspaces')
    .selectAll()
    .where('name', '=', name)
    .executeTakeFirstOrThrow();

  return { workspace: existing, created: false };
}

export async function insertAdminKey(
  db: Database,
  values: { workspaceId: string; keyHash: string; keyPreview: string; label: string },
): Promise<AdminKey> {
  return db
    .insertInto('admin_keys')
    .values({
      workspace_id: values.workspaceId,
      key_hash: values.keyHash,
      key_preview: values.keyPreview,
      label: values.label,
    })
    .returningAll()
    .executeTakeFirstOrThrow();
}

/** The live (unrevoked) admin key with this SHA-256 hash. */
export async function findAdminKeyByHash(db: Database, keyHash: string): Promise<AdminKey | undefined> {
  return db
    .selectFrom('admin_keys')
    .selectAll()
    .where('key_hash', '=', keyHash)
    .where('revoked_at', 'is', null)
    .executeTakeFirst();
}

export async function countLiveAdminKeys(db: Database, workspaceId: string): Promise<number> {
  const row = await db
    .selectFrom('admin_keys')
    .select((eb) => eb.fn.countAll<string>().as('count'))
    .where('workspace_id', '=', workspaceId)
    .where('revoked_at', 'is', null)
    .executeTakeFirstOrThrow();

  return Number(row.count);
}
