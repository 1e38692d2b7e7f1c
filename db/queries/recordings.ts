import { sql } from 'kysely';
import type { Database } from '../database.js';
import type { JsonValue, Recording } from '../schema.js';

export async function saveRecording(
  db: Database,
  recording: {
    callId: string;
    storageKey: string;
    size: number;
    sha256: string;
    contentType: string;
    durationSeconds: number | null;
    finalUrl: string;
  },
): Promise<void> {
  const values = {
    storage_key: recording.storageKey,
    size: recording.size,
    sha256: recording.sha256,
    content_type: recording.contentType,
    duration_seconds: recording.durationSeconds,
    final_url: recording.finalUrl,
    downloaded_at: new Date(),
  };

  await db
    .insertInto('recordings')
    .values({ call_id: recording.callId, ...values })
    .onConflict((oc) => oc.column('call_id').doUpdateSet(values))
    .execute();
}

export async function findRecording(db: Database, callId: string): Promise<Recording | undefined> {
  return db.selectFrom('recordings').selectAll().where('call_id', '=', callId).executeTakeFirst();
}

export async function setTranscriptionId(db: Database, callId: string, transcriptionId: string): Promise<void> {
  await db
    .updateTable('calls')
    .set({ transcription_id: transcriptionId, updated_at: new Date() })
    .where('id', '=', callId)
    .execute();
}

export async function saveTranscription(
  db: Database,
  callId: string,
  transcript: { text: string; utterances: JsonValue[] },
): Promise<void> {
  await db
    .updateTable('calls')
    .set({
      transcript_text: transcript.text,
      transcript_source: 'assemblyai',
      transcript_utterances: JSON.stringify(transcript.utterances),
      updated_at: new Date(),
    })
    .where('id', '=', callId)
    .execute();
}

/** Makes exactly `count` transcription slots exist, keeping any that are held. */
export async function ensureTranscriptionSlots(db: Database, count: number): Promise<void> {
  await db
    .insertInto('transcription_slots')
    .values(Array.from({ length: count }, (_, slot) => ({ slot, call_id: null, expires_at: null })))
    .onConflict((oc) => oc.column('slot').doNothing())
    .execute();
  await db
    .deleteFrom('transcription_slots')
    .where('slot', '>=', count)
    .where((eb) => eb.or([eb('call_id', 'is', null), eb('expires_at', '<', sql<Date>`now()`)]))
    .execute();
}

/**
 * Takes a free (or expired) transcription slot for the call, or renews the one it holds. Resolves
 * the slot number, or undefined when every slot is held by another live call.
 */
export async function acquireTranscriptionSlot(
  db: Database,
  callId: string,
  leaseSeconds: number,
): Promise<number | undefined> {
  const result = await sql<{ slot: number }>`
    update transcription_slots
    set call_id = ${callId}, expires_at = now() + make_interval(secs => ${leaseSeconds})
    where slot = (
      select slot from transcription_slots
      where call_id = ${callId} or call_id is null or expires_at < now()
      order by (call_id = ${callId}) desc nulls last, slot
      limit 1
      for update skip locked
    )
    returning slot`.execute(db);

  return result.rows[0]?.slot;
}

export async function releaseTranscriptionSlot(db: Database, callId: string): Promise<void> {
  await db
    .updateTable('transcription_slots')
    .set({ call_id: null, expires_at: null })
    .where('call_id', '=', callId)
    .execute();
}
