import { sql, type Kysely } from 'kysely';

// Migrations take `Kysely<any>` on purpose: they describe the schema at their own point in history,
// not the current table types.
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('workspaces')
    .addColumn('id', 'uuid', (col) => col.primaryKey().defaultTo(sql`gen_random_uuid()`))
    .addColumn('name', 'text', (col) => col.notNull().unique())
    .addColumn('created_at', 'timestamptz', (col) => col.notNull().defaultTo(sql`now()`))
    .execute();

  await db.schema
    .createTable('admin_keys')
    .addColumn('id', 'uuid', (col) => col.primaryKey().defaultTo(sql`gen_random_uuid()`))
    .addColumn('workspace_id', 'uuid', (col) =>
      col.notNull().references('workspaces.id').onDelete('cascade'),
    )
    .addColumn('key_hash', 'text', (col) => col.notNull().unique())
    .addColumn('key_preview', 'text', (col) => col.notNull())
    .addColumn('label', 'text', (col) => col.notNull())
    .addColumn('created_at', 'timestamptz', (col) => col.notNull().defaultTo(sql`now()`))
    .addColumn('revoked_at', 'timestamptz')
    .execute();

  await db.schema
    .createTable('integrations')
    .addColumn('id', 'uuid', (col) => col.primaryKey().defaultTo(sql`gen_random_uuid()`))
    .addColumn('workspace_id', 'uuid', (col) =>
      col.notNull().references('workspaces.id').onDelete('cascade'),
    )
    .addColumn('name', 'text', (col) => col.notNull())
    .addColumn('provider', 'text', (col) => col.notNull())
    .addColumn('token', 'uuid', (col) => col.notNull().unique())
    .addColumn('api_key_hash', 'text', (col) => col.notNull())
    .addColumn('api_key_preview', 'text', (col) => col.notNull())
    .addColumn('ip_allowlist', sql`text[]`, (col) => col.notNull().defaultTo(sql`'{}'::text[]`))
    .addColumn('enabled', 'boolean', (col) => col.notNull().defaultTo(true))
    .addColumn('created_at', 'timestamptz', (col) => col.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', 'timestamptz', (col) => col.notNull().defaultTo(sql`now()`))
    .addColumn('deleted_at', 'timestamptz')
    .execute();

  await db.schema
    .createIndex('integrations_workspace_idx')
    .on('integrations')
    .columns(['workspace_id', 'created_at'])
    .execute();

  await db.schema
    .createTable('calls')
    .addColumn('id', 'uuid', (col) => col.primaryKey().defaultTo(sql`gen_random_uuid()`))
    .addColumn('workspace_id', 'uuid', (col) =>
      col.notNull().references('workspaces.id').onDelete('cascade'),
    )
    .addColumn('integration_id', 'uuid', (col) =>
      col.notNull().references('integrations.id').onDelete('cascade'),
    )
    .addColumn('external_id', 'text', (col) => col.notNull())
    .addColumn('status', 'text', (col) =>
      col
        .notNull()
        .defaultTo('queued')
        .check(
          sql`status in ('queued', 'downloading', 'transcribing', 'scoring', 'scored', 'failed')`,
        ),
    )
    .addColumn('failure_reason', 'text')
    .addColumn('rep_name', 'text')
    .addColumn('caller_phone', 'text')
    .addColumn('duration', 'double precision')
    .addColumn('call_date', 'timestamptz', (col) => col.notNull())
    .addColumn('recording_url', 'text')
    .addColumn('transcript_text', 'text')
    .addColumn('transcript_source', 'text')
    .addColumn('metadata', 'json')
    .addColumn('workflow_id', 'text', (col) => col.notNull())
    .addColumn('workflow_started_at', 'timestamptz')
    .addColumn('score', 'jsonb')
    .addColumn('overall_score', 'integer')
    .addColumn('created_at', 'timestamptz', (col) => col.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', 'timestamptz', (col) => col.notNull().defaultTo(sql`now()`))
    // The durable idempotency guard: one call per external id per integration, however many
    // deliveries race.
    .addUniqueConstraint('calls_integration_external_id_key', ['integration_id', 'external_id'])
    .execute();

  await db.schema
    .createIndex('calls_workspace_created_idx')
    .on('calls')
    .columns(['workspace_id', 'created_at desc', 'id desc'])
    .execute();

  await db.schema
    .createIndex('calls_unstarted_idx')
    .on('calls')
    .column('created_at')
    .where(sql.ref('workflow_started_at'), 'is', null)
    .execute();

  await db.schema
    .createTable('scores')
    .addColumn('id', 'uuid', (col) => col.primaryKey().defaultTo(sql`gen_random_uuid()`))
    .addColumn('call_id', 'uuid', (col) => col.notNull().references('calls.id').onDelete('cascade'))
    .addColumn('scorer', 'text', (col) => col.notNull())
    .addColumn('scorer_version', 'text', (col) => col.notNull())
    .addColumn('overall', 'integer')
    .addColumn('scorecard', 'jsonb', (col) => col.notNull())
    .addColumn('created_at', 'timestamptz', (col) => col.notNull().defaultTo(sql`now()`))
    .execute();

  await db.schema.createIndex('scores_call_idx').on('scores').columns(['call_id', 'created_at']).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const table of ['scores', 'calls', 'integrations', 'admin_keys', 'workspaces']) {
    await db.schema.dropTable(table).ifExists().execute();
  }
}
