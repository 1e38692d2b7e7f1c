import type { Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  // Pruning the delivery log walks events oldest first.
  await db.schema.createIndex('events_created_at_idx').on('events').column('created_at').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex('events_created_at_idx').execute();
}
