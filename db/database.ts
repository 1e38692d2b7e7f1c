import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { Kysely, PGliteDialect, PostgresDialect } from 'kysely';
import pg from 'pg';
import type { DatabaseSchema } from './schema.js';

/** The query builder every query function takes first. A transaction is one too. */
export type Database = Kysely<DatabaseSchema>;

export type DatabaseKind = 'postgres' | 'pglite';

export type DatabaseHandle = {
  db: Database;
  kind: DatabaseKind;
  /** Closes the pool or the embedded database. */
  close(): Promise<void>;
};

export type DatabaseOptions =
  | { kind: 'postgres'; url: string; poolSize?: number }
  /** `dir` persists the embedded database there; without it the database lives in memory. */
  | { kind: 'pglite'; dir?: string };

/**
 * Opens PostgreSQL through `pg`, or the embedded PGlite build of PostgreSQL. Both speak the same SQL
 * and run the same migrations. PGlite serves one process only: it is for `closermode dev` and tests.
 */
export async function openDatabase(options: DatabaseOptions): Promise<DatabaseHandle> {
  if (options.kind === 'postgres') {
    const pool = new pg.Pool({
      connectionString: options.url,
      max: options.poolSize ?? 10,
      // A stuck connect must surface as an error (and a 503 from /readyz), not hang a request.
      connectionTimeoutMillis: 10_000,
    });
    // An idle connection the server ends (a restart, a dropped database) is removed by the pool
    // itself; without a listener the event would end the process.
    pool.on('error', () => undefined);
    const db = new Kysely<DatabaseSchema>({ dialect: new PostgresDialect({ pool }) });

    return { db, kind: 'postgres', close: () => db.destroy() };
  }

  if (options.dir) {
    await mkdir(path.dirname(options.dir), { recursive: true });
  }
  const pglite = options.dir ? new PGlite(options.dir) : new PGlite();
  await pglite.waitReady;
  const db = new Kysely<DatabaseSchema>({ dialect: new PGliteDialect({ pglite }) });

  return { db, kind: 'pglite', close: () => db.destroy() };
}

/** Opens the database the configuration names: `DATABASE_URL`, else PGlite under the data folder. */
export function databaseOptionsFor(config: {
  databaseUrl: string | undefined;
  databasePoolSize: number;
  dataDir: string;
}): DatabaseOptions {
  if (config.databaseUrl) {
    return { kind: 'postgres', url: config.databaseUrl, poolSize: config.databasePoolSize };
  }

  return { kind: 'pglite', dir: path.join(config.dataDir, 'pglite') };
}
