import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('recordings')
    .addColumn('call_id', 'uuid', (col) => col.primaryKey().references('calls.id').onDelete('cascade'))
    .addColumn('storage_key', 'text', (col) => col.notNull())
    .addColumn('size', 'bigint', (col) => col.notNull())
    .addColumn('sha256', 'text', (col) => col.notNull())
    .addColumn('content_type', 'text', (col) => col.notNull())
    .addColumn('duration_seconds', 'double precision')
    .addColumn('final_url', 'text', (col) => col.notNull())
    .addColumn('downloaded_at', 'timestamptz', (col) => col.notNull().defaultTo(sql`now()`))
    .execute();

  await db.schema
    .alterTable('calls')
    .addColumn('transcript_utterances', 'jsonb')
    .addColumn('transcription_id', 'text')
    .execute();

  await db.schema
    .alterTable('integrations')
    // `{ username, password }` sealed with the secrets key; never returned by the API.
    .addColumn('recording_auth_sealed', 'text')
    .addColumn('transcription_language', 'text')
    .execute();

  // One row per transcript AssemblyAI may be working on at once, across every worker. A lease
  // expires so a crashed worker cannot hold its slot for ever.
  await db.schema
    .createTable('transcription_slots')
    .addColumn('slot', 'integer', (col) => col.primaryKey())
    .addColumn('call_id', 'uuid')
    .addColumn('expires_at', 'timestamptz')
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('transcription_slots').execute();
  await db.schema.alterTable('integrations').dropColumn('recording_auth_sealed').dropColumn('transcription_language').execute();
  await db.schema.alterTable('calls').dropColumn('transcript_utterances').dropColumn('transcription_id').execute();
  await db.schema.dropTable('recordings').execute();
}
