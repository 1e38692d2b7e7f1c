import {
  Migrator,
  type Migration,
  type MigrationProvider,
  type MigrationResultSet,
} from 'kysely/migration';
import type { Database } from './database.js';
import * as initial from './migrations/0001-initial.js';
import * as recordings from './migrations/0002-recordings.js';
import * as downstream from './migrations/0003-downstream.js';
import * as scoring from './migrations/0004-scoring.js';
import * as deliveryLogRetention from './migrations/0005-delivery-log-retention.js';

// Listed in code rather than read from a folder, so migrations work the same under tsx, in a
// bundle and in the Docker image. Names sort in the order they run.
const migrations: Record<string, Migration> = {
  '0001-initial': initial,
  '0002-recordings': recordings,
  '0003-downstream': downstream,
  '0004-scoring': scoring,
  '0005-delivery-log-retention': deliveryLogRetention,
};

const provider: MigrationProvider = {
  getMigrations: async () => migrations,
};

export class MigrationError extends Error {
  override name = 'MigrationError';
}

/** Brings the schema up to date; safe to run from several processes at once (kysely locks). */
export async function migrateToLatest(db: Database): Promise<MigrationResultSet> {
  const migrator = new Migrator({ db, provider });
  const result = await migrator.migrateToLatest();
  if (result.error) {
    const failed = result.results?.find((entry) => entry.status === 'Error');
    throw new MigrationError(`migration ${failed?.migrationName ?? '(unknown)'} failed`, {
      cause: result.error,
    });
  }

  return result;
}
