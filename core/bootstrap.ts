import { chmod, mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Database } from '../db/database.js';
import { countLiveAdminKeys, ensureWorkspace, insertAdminKey } from '../db/queries/workspaces.js';
import type { Workspace } from '../db/schema.js';
import { generateAdminKey, hashSecret, keyPreview } from './secrets.js';

export const defaultWorkspaceName = 'default';

/** Where the first admin key is written: readable by its owner only. */
export function adminKeyFile(dataDir: string): string {
  return path.join(dataDir, 'admin-key');
}

/** Creates an admin key for a workspace; the key is returned once and only its hash is stored. */
export async function createAdminKey(
  db: Database,
  workspaceId: string,
  label: string,
): Promise<string> {
  const key = generateAdminKey();
  await insertAdminKey(db, { workspaceId, keyHash: hashSecret(key), keyPreview: keyPreview(key), label });

  return key;
}

/**
 * Makes sure the `default` workspace exists and has an admin key. The first time, a key is made,
 * its hash stored and the key itself written to `<dataDir>/admin-key` with mode 0600.
 */
export async function bootstrapDefaultWorkspace(
  db: Database,
  dataDir: string,
): Promise<{ workspace: Workspace; keyFile: string; keyCreated: boolean }> {
  const { workspace } = await ensureWorkspace(db, defaultWorkspaceName);
  const keyFile = adminKeyFile(dataDir);
  if ((await countLiveAdminKeys(db, workspace.id)) > 0) {
    return { workspace, keyFile, keyCreated: false };
  }

  const key = await createAdminKey(db, workspace.id, 'created at first start');
  await mkdir(dataDir, { recursive: true });
  await writeFile(keyFile, `${key}\n`, { mode: 0o600 });
  // The mode given to writeFile does not apply to a file that already existed.
  await chmod(keyFile, 0o600);

  return { workspace, keyFile, keyCreated: true };
}
