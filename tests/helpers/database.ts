import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { openDatabase, type Database, type DatabaseKind } from '../../db/database.js';
import { migrateToLatest } from '../../db/migrate.js';

export type TestDatabase = {
  db: Database;
  kind: DatabaseKind;
  /** The connection URL, for PostgreSQL databases other processes can open too. */
  url?: string;
  close(): Promise<void>;
};

/**
 * Drops a throwaway database (a test's or a benchmark's). `with (force)` ends our own connections,
 * but not an autovacuum worker, which belongs to the superuser: then PostgreSQL refuses, and a
 * moment later the worker is gone.
 */
export async function dropThrowawayDatabase(client: pg.Client, name: string): Promise<void> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      await client.query(`drop database if exists ${name} with (force)`);
      return;
    } catch (error) {
      if (attempt >= 20) {
        throw error;
      }
      await sleep(250);
    }
  }
}

/** The database kinds this run can test: PostgreSQL when `TEST_DATABASE_URL` is set, PGlite always. */
export function availableDatabaseKinds(): DatabaseKind[] {
  return process.env.TEST_DATABASE_URL ? ['postgres', 'pglite'] : ['pglite'];
}

/** The kind most tests run on: the real server when there is one. */
export function defaultDatabaseKind(): DatabaseKind {
  return process.env.TEST_DATABASE_URL ? 'postgres' : 'pglite';
}

/**
 * A freshly migrated database for one test file: a new database on the PostgreSQL server of
 * `TEST_DATABASE_URL` (dropped on close), or an in-memory PGlite.
 */
export async function createTestDatabase(kind: DatabaseKind = defaultDatabaseKind()): Promise<TestDatabase> {
  if (kind === 'pglite') {
    const handle = await openDatabase({ kind: 'pglite' });
    await migrateToLatest(handle.db);

    return handle;
  }

  const serverUrl = process.env.TEST_DATABASE_URL;
  if (!serverUrl) {
    throw new Error('TEST_DATABASE_URL is not set');
  }

  const name = `closermode_test_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: serverUrl });
  await admin.connect();
  await admin.query(`create database ${name}`);
  await admin.end();

  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  const handle = await openDatabase({ kind: 'postgres', url: url.toString(), poolSize: 20 });
  await migrateToLatest(handle.db);

  return {
    ...handle,
    url: url.toString(),
    async close() {
      await handle.close();
      const cleanup = new pg.Client({ connectionString: serverUrl });
      await cleanup.connect();
      try {
        await dropThrowawayDatabase(cleanup, name);
      } finally {
        await cleanup.end();
      }
    },
  };
}
