import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  // A workspace's changes to the built-in rubric (weights, keywords); absent means the defaults.
  await db.schema
    .createTable('scoring_rubrics')
    .addColumn('workspace_id', 'uuid', (col) =>
      col.primaryKey().references('workspaces.id').onDelete('cascade'),
    )
    .addColumn('override', 'jsonb', (col) => col.notNull())
    .addColumn('updated_at', 'timestamptz', (col) => col.notNull().defaultTo(sql`now()`))
    .execute();

  await db.schema.alterTable('scores').addColumn('request_id', 'text').execute();
  // A re-score request retried by the client (or by Temporal) stores one scorecard.
  await db.schema
    .createIndex('scores_call_request_idx')
    .on('scores')
    .columns(['call_id', 'request_id'])
    .unique()
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex('scores_call_request_idx').execute();
  await db.schema.alterTable('scores').dropColumn('request_id').execute();
  await db.schema.dropTable('scoring_rubrics').execute();
}
