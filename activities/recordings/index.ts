import { ApplicationFailure, Context } from '@temporalio/activity';
import {
  assemblyAiWebhookHeader,
  assemblyAiWebhookPurpose,
  assemblyAiWebhookUrl,
} from '../../core/assemblyai-webhook.js';
import { ExternalServiceError } from '../../core/external-error.js';
import type { AddressPolicy } from '../../core/net/address-policy.js';
import type { SecretBox } from '../../core/secret-box.js';
import type { Database } from '../../db/database.js';
import { findIntegrationById } from '../../db/queries/integrations.js';
import {
  acquireTranscriptionSlot,
  findRecording,
  releaseTranscriptionSlot,
  saveRecording,
  saveTranscription,
  setTranscriptionId,
} from '../../db/queries/recordings.js';
import { requireCall } from '../calls.js';
import type { EventPublisher } from '../events.js';
import { downloadRecording } from './download.js';
import { formatTranscript } from './speakers.js';
import type { RecordingStorage } from './storage.js';
import { requireCompleted, type AssemblyAiTranscriber } from './transcription.js';

export type RecordingActivityDeps = {
  db: Database;
  storage: RecordingStorage;
  /** Undefined when no AssemblyAI key is configured. */
  transcriber: AssemblyAiTranscriber | undefined;
  /** Decides which recording hosts may be fetched (SSRF protection). */
  addressPolicy: AddressPolicy;
  secretBox: SecretBox;
  events: EventPublisher;
  recordingLimits: { maxBytes: number; connectTimeoutMs: number; readTimeoutMs: number };
  /** When set, AssemblyAI is asked to call the api at this origin back when a transcript is done. */
  assemblyAiWebhookBaseUrl?: string;
};

/** How long a transcription slot is held without being renewed by a status check. */
const slotLeaseSeconds = 15 * 60;

export type DownloadResult = { size: number; sha256: string; durationSeconds: number | null };

function storageKeyFor(callId: string): string {
  return `recordings/${callId}`;
}

/**
 * Temporal's view of an outside service's failure: permanent ones fail the call at once, retryable
 * ones retry after the delay the service asked for, if any. Anything else is rethrown as it is.
 */
function activityFailure(error: unknown, type: string): unknown {
  if (!(error instanceof ExternalServiceError)) {
    return error;
  }
  if (!error.retryable) {
    return ApplicationFailure.nonRetryable(error.message, `${type}:${error.kind}`);
  }

  return ApplicationFailure.create({
    message: error.message,
    type: `${type}:${error.kind}`,
    ...(error.retryAfterMs !== undefined && { nextRetryDelay: error.retryAfterMs }),
  });
}

function requireTranscriber(transcriber: AssemblyAiTranscriber | undefined): AssemblyAiTranscriber {
  if (!transcriber) {
    throw ApplicationFailure.nonRetryable(
      'transcription is not configured: set ASSEMBLYAI_API_KEY, or send a transcript',
      'TranscriptionNotConfigured',
    );
  }

  return transcriber;
}

export function createRecordingActivities(deps: RecordingActivityDeps) {
  const { db, storage } = deps;

  return {
    /**
     * Streams the call's recording into storage, heartbeating as bytes arrive so a dead worker is
     * noticed and the download starts again elsewhere. Bytes never pass through the workflow.
     */
    async downloadRecording(callId: string): Promise<DownloadResult> {
      const call = await requireCall(db, callId);
      if (!call.recording_url) {
        throw ApplicationFailure.nonRetryable('call has no recording URL', 'NoRecording');
      }

      const integration = await findIntegrationById(db, call.integration_id);
      const basicAuth = integration?.recording_auth_sealed
        ? (JSON.parse(deps.secretBox.open(integration.recording_auth_sealed)) as {
            username: string;
            password: string;
          })
        : undefined;
      const context = Context.current();

      try {
        const stored = await downloadRecording({
          url: call.recording_url,
          storage,
          key: storageKeyFor(callId),
          policy: deps.addressPolicy,
          ...deps.recordingLimits,
          ...(basicAuth && { basicAuth }),
          onProgress: (bytes) => context.heartbeat({ bytes }),
          signal: context.cancellationSignal,
        });
        await saveRecording(db, {
          callId,
          storageKey: stored.key,
          size: stored.size,
          sha256: stored.sha256,
          contentType: stored.contentType,
          durationSeconds: stored.durationSeconds,
          finalUrl: stored.finalUrl,
        });
        context.log.info('recording stored', { callId, bytes: stored.size });

        return {
          size: stored.size,
          sha256: stored.sha256,
          durationSeconds: stored.durationSeconds,
        };
      } catch (error) {
        throw activityFailure(error, 'RecordingDownload');
      }
    },

    /**
     * Takes one of the slots that bound how many transcripts AssemblyAI works on at once. Fails
     * (to be retried with backoff) while all are taken.
     */
    async acquireTranscriptionSlot(callId: string): Promise<number> {
      requireTranscriber(deps.transcriber);
      const slot = await acquireTranscriptionSlot(db, callId, slotLeaseSeconds);
      if (slot === undefined) {
        throw ApplicationFailure.retryable(
          'every transcription slot is taken',
          'TranscriptionBusy',
        );
      }

      return slot;
    },

    async releaseTranscriptionSlot(callId: string): Promise<void> {
      await releaseTranscriptionSlot(db, callId);
    },

    /** Uploads the stored recording to AssemblyAI and asks for a two-speaker transcript. */
    async submitTranscription(callId: string): Promise<{ transcriptId: string }> {
      const transcriber = requireTranscriber(deps.transcriber);
      const call = await requireCall(db, callId);
      const recording = await findRecording(db, callId);
      if (!recording) {
        throw ApplicationFailure.nonRetryable('the recording was not stored', 'NoRecording');
      }
      const integration = await findIntegrationById(db, call.integration_id);

      try {
        const audio =
          storage.localPath?.(recording.storage_key) ?? (await storage.get(recording.storage_key));
        const { transcriptId } = await transcriber.submit({
          audio,
          ...(integration?.transcription_language && {
            languageCode: integration.transcription_language,
          }),
          ...(deps.assemblyAiWebhookBaseUrl && {
            webhookUrl: assemblyAiWebhookUrl(deps.assemblyAiWebhookBaseUrl, callId),
            webhookAuthHeader: {
              name: assemblyAiWebhookHeader,
              value: deps.secretBox.sign(assemblyAiWebhookPurpose, callId),
            },
          }),
        });
        await setTranscriptionId(db, callId, transcriptId);

        return { transcriptId };
      } catch (error) {
        throw activityFailure(error, 'Transcription');
      }
    },

    /**
     * Reads the transcript's state once. When it is done, stores it as `Agent:`/`Customer:` lines
     * with the utterances and resolves `done: true`; an `error` transcript fails the call.
     */
    async checkTranscription(callId: string, transcriptId: string): Promise<{ done: boolean }> {
      const transcriber = requireTranscriber(deps.transcriber);
      await acquireTranscriptionSlot(db, callId, slotLeaseSeconds);

      try {
        const state = await transcriber.get(transcriptId);
        if (state.status === 'queued' || state.status === 'processing') {
          return { done: false };
        }

        const completed = requireCompleted(state);
        const call = await requireCall(db, callId);
        const formatted = formatTranscript(completed.utterances, {
          ...(call.rep_name && { repName: call.rep_name }),
        });
        await saveTranscription(db, callId, {
          text: formatted.text,
          utterances: completed.utterances.map((utterance) => ({
            speaker: utterance.speaker === formatted.agentSpeaker ? 'agent' : 'customer',
            label: utterance.speaker,
            text: utterance.text,
            startMs: utterance.start,
            endMs: utterance.end,
            confidence: utterance.confidence,
          })),
        });
        await deps.events.publish('call.transcribed', callId);

        return { done: true };
      } catch (error) {
        throw activityFailure(error, 'Transcription');
      }
    },
  };
}
