import {
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  condition,
  defineSignal,
  log,
  proxyActivities,
  setHandler,
  upsertSearchAttributes,
} from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import type { CallStatus } from '../db/schema.js';
import {
  callExternalIdKey,
  callIntegrationIdKey,
  callRepNameKey,
  callStatusKey,
} from './search-attributes.js';
import { scoreCall } from './scoring-activities.js';

// Keyword values are bounded by the server; long values are cut, never refused.
const maxKeywordLength = 255;

export type ProcessCallInput = {
  callId: string;
  /** Copied into search attributes so operators can find the call in the Temporal UI. */
  integrationId?: string;
  externalId?: string;
  repName?: string | null;
};

/**
 * Sent when AssemblyAI reports the call's transcript done, so the wait ends now rather than at the
 * next status check. Carries nothing: the workflow asks AssemblyAI for the transcript itself.
 */
export const transcriptReadySignal = defineSignal('transcriptReady');

export type ProcessCallResult =
  | { status: 'scored'; overall: number }
  | { status: 'failed'; reason: string };

// Database steps retry without limit: a database outage delays calls, it must never fail them.
const { beginProcessing, setStatus, markFailed } = proxyActivities<Activities>({
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute' },
});

// A download heartbeats every second; twenty silent seconds mean its worker is gone, and the
// download starts again on another one.
const { downloadRecording } = proxyActivities<Activities>({
  startToCloseTimeout: '1 hour',
  heartbeatTimeout: '20 seconds',
  retry: {
    initialInterval: '5 seconds',
    backoffCoefficient: 2,
    maximumInterval: '5 minutes',
    maximumAttempts: 10,
  },
});

// Waits for a free slot without limit: the bound on AssemblyAI concurrency delays calls, it never
// fails them.
const { acquireTranscriptionSlot, releaseTranscriptionSlot } = proxyActivities<Activities>({
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '2 seconds', backoffCoefficient: 1.5, maximumInterval: '30 seconds' },
});

const { submitTranscription, checkTranscription } = proxyActivities<Activities>({
  startToCloseTimeout: '10 minutes',
  retry: {
    initialInterval: '500 milliseconds',
    backoffCoefficient: 2,
    maximumInterval: '2 minutes',
    maximumAttempts: 12,
  },
});

/** How long AssemblyAI may take before the call fails; its own limit is far below. */
const transcriptionDeadlineMs = 6 * 60 * 60 * 1000;


async function moveTo(callId: string, status: CallStatus): Promise<void> {
  await setStatus(callId, status);
  upsertSearchAttributes([{ key: callStatusKey, value: status }]);
}

/** The innermost message of an activity failure: the reason a person can act on. */
function reasonOf(failure: ActivityFailure): string {
  const cause = failure.cause;
  if (cause instanceof ApplicationFailure || cause instanceof Error) {
    return cause.message;
  }

  return failure.message;
}

/** Set by the transcript-ready signal; the wait for a transcript clears it after each check. */
type TranscriptWake = { ready: boolean };

/**
 * Transcribes the stored recording. The wait is a durable timer between short status checks, so no
 * worker slot is held while AssemblyAI works, and a restart loses nothing. AssemblyAI's webhook, when
 * configured, ends each wait early; the timers are the safety net.
 */
async function transcribe(callId: string, wake: TranscriptWake): Promise<void> {
  await acquireTranscriptionSlot(callId);
  try {
    const { transcriptId } = await submitTranscription(callId);
    const deadline = Date.now() + transcriptionDeadlineMs;
    let delayMs = 1_000;

    for (;;) {
      await condition(() => wake.ready, delayMs);
      wake.ready = false;
      if ((await checkTranscription(callId, transcriptId)).done) {
        return;
      }
      if (Date.now() > deadline) {
        throw ApplicationFailure.nonRetryable('AssemblyAI did not finish the transcript within 6 hours');
      }
      delayMs = Math.min(delayMs * 1.5, 30_000);
    }
  } finally {
    // Released even when the workflow is cancelled, or the slot would wait for its lease to expire.
    await CancellationScope.nonCancellable(() => releaseTranscriptionSlot(callId));
  }
}

/**
 * Takes one stored call from `queued` to `scored` (or `failed` with a reason). Transcripts and
 * audio never pass through the workflow's history: activities read and write them by call id.
 */
export async function processCall(input: ProcessCallInput): Promise<ProcessCallResult> {
  const { callId } = input;
  const wake: TranscriptWake = { ready: false };
  setHandler(transcriptReadySignal, () => {
    wake.ready = true;
  });
  // Set by the workflow rather than at start: on the webhook's hot path they cost a third of
  // Temporal's start throughput. Until this first task runs, the workflow id carries the same facts.
  upsertSearchAttributes([
    { key: callStatusKey, value: 'queued' },
    ...(input.integrationId ? [{ key: callIntegrationIdKey, value: input.integrationId }] : []),
    ...(input.externalId
      ? [{ key: callExternalIdKey, value: input.externalId.slice(0, maxKeywordLength) }]
      : []),
    ...(input.repName ? [{ key: callRepNameKey, value: input.repName.slice(0, maxKeywordLength) }] : []),
  ]);
  const plan = await beginProcessing(callId);

  try {
    if (!plan.hasTranscript) {
      if (!plan.hasRecording) {
        throw ApplicationFailure.nonRetryable('call has neither a transcript nor a recording');
      }
      // Checked before downloading, so such calls fail at once with a reason that says what to do.
      if (!plan.canTranscribe) {
        throw ApplicationFailure.nonRetryable(
          'transcription is not configured: set ASSEMBLYAI_API_KEY, or send a transcript',
        );
      }

      await moveTo(callId, 'downloading');
      await downloadRecording(callId);
      await moveTo(callId, 'transcribing');
      await transcribe(callId, wake);
    }

    await moveTo(callId, 'scoring');
    const score = await scoreCall(callId);
    upsertSearchAttributes([{ key: callStatusKey, value: 'scored' }]);

    return { status: 'scored', overall: score.overall };
  } catch (error) {
    if (!(error instanceof ActivityFailure || error instanceof ApplicationFailure)) {
      throw error;
    }

    const reason = error instanceof ActivityFailure ? reasonOf(error) : error.message;
    log.warn('call failed', { callId, reason });
    await markFailed(callId, reason);
    upsertSearchAttributes([{ key: callStatusKey, value: 'failed' }]);

    return { status: 'failed', reason };
  }
}
