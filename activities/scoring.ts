import { ApplicationFailure } from '@temporalio/activity';
import type { Database } from '../db/database.js';
import { saveScore } from '../db/queries/calls.js';
import type { JsonObject } from '../db/schema.js';
import { computeConversationStats } from '../scoring/conversation-stats.js';
import { requireCall } from './calls.js';
import type { EventPublisher } from './events.js';

export type ScoringActivityDeps = { db: Database; events: EventPublisher };

export type ScoreResult = { overall: number | null; scorer: string };

const statsScorer = { name: 'conversation-stats', version: '1' };

export function createScoringActivities({ db, events }: ScoringActivityDeps) {
  return {
    /** Scores the call's stored transcript, stores the scorecard and marks the call `scored`. */
    async scoreCall(callId: string): Promise<ScoreResult> {
      const call = await requireCall(db, callId);
      if (!call.transcript_text) {
        throw ApplicationFailure.nonRetryable('call has no transcript to score', 'NoTranscript');
      }

      const stats = computeConversationStats(call.transcript_text);
      const scorecard: JsonObject = { overall: null, stats, scorer: statsScorer };
      await saveScore(db, callId, {
        scorer: statsScorer.name,
        scorerVersion: statsScorer.version,
        overall: null,
        scorecard,
      });
      await events.publish('call.scored', callId, { dedupeKey: statsScorer.version });

      return { overall: null, scorer: statsScorer.name };
    },
  };
}
