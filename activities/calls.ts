import { ApplicationFailure } from '@temporalio/activity';
import type { Database } from '../db/database.js';
import { findCallById, markWorkflowStarted, setCallStatus } from '../db/queries/calls.js';
import type { Call, CallStatus } from '../db/schema.js';
import type { EventPublisher } from './events.js';

/** What the workflow needs to know to choose a path; never the transcript itself. */
export type CallProcessingPlan = {
  callId: string;
  hasTranscript: boolean;
  hasRecording: boolean;
  /** Whether this worker can transcribe recordings (an AssemblyAI key is configured). */
  canTranscribe: boolean;
  status: CallStatus;
};

export type CallActivityDeps = {
  db: Database;
  events: EventPublisher;
  transcriptionConfigured: boolean;
};

/** Loads a call or fails for good: a call that is not in the database will never appear there. */
export async function requireCall(db: Database, callId: string): Promise<Call> {
  const call = await findCallById(db, callId);
  if (!call) {
    throw ApplicationFailure.nonRetryable(`call ${callId} does not exist`, 'CallNotFound');
  }

  return call;
}

export function createCallActivities({ db, events, transcriptionConfigured }: CallActivityDeps) {
  return {
    /** Marks the call's workflow as running and tells the workflow which path the call takes. */
    async beginProcessing(callId: string): Promise<CallProcessingPlan> {
      const call = await requireCall(db, callId);
      await markWorkflowStarted(db, callId);
      await events.publish('call.created', callId);

      return {
        callId,
        hasTranscript: call.transcript_text !== null && call.transcript_text.trim() !== '',
        hasRecording: call.recording_url !== null,
        canTranscribe: transcriptionConfigured,
        status: call.status,
      };
    },

    async setStatus(callId: string, status: CallStatus): Promise<void> {
      await setCallStatus(db, callId, status);
    },

    async markFailed(callId: string, reason: string): Promise<void> {
      await setCallStatus(db, callId, 'failed', reason);
      await events.publish('call.failed', callId);
    },
  };
}
