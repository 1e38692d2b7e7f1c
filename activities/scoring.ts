import { ApplicationFailure, Context } from '@temporalio/activity';
import type { Database } from '../db/database.js';
import { saveScore } from '../db/queries/calls.js';
import { findRubricOverride, findScoreByRequest } from '../db/queries/scoring.js';
import type { JsonObject } from '../db/schema.js';
import { rubricFor, type Rubric, type Scorer, type Utterance } from '../scoring/index.js';
import { requireCall } from './calls.js';
import type { EventPublisher } from './events.js';

export type ScoringActivityDeps = { db: Database; events: EventPublisher; scorer: Scorer };

export type ScoreResult = { overall: number; scorer: string; fallbackReason?: string };

/** A workspace's rubric: the defaults with its stored override applied. */
export async function workspaceRubric(db: Database, workspaceId: string): Promise<Rubric> {
  return rubricFor(await findRubricOverride(db, workspaceId));
}

function timedUtterances(stored: unknown): Utterance[] | undefined {
  if (!Array.isArray(stored)) {
    return undefined;
  }

  return stored.flatMap((entry: { speaker?: unknown; startMs?: unknown; endMs?: unknown }) =>
    (entry.speaker === 'agent' || entry.speaker === 'customer') &&
    typeof entry.startMs === 'number' &&
    typeof entry.endMs === 'number'
      ? [{ speaker: entry.speaker, startMs: entry.startMs, endMs: entry.endMs }]
      : [],
  );
}

export function createScoringActivities({ db, events, scorer }: ScoringActivityDeps) {
  return {
    /**
     * Scores the call's stored transcript with the workspace's rubric, appends the scorecard to its
     * history, makes it current and marks the call `scored`. `requestId` names a re-score request
     * (the first scoring is `initial`): a retried request neither scores again (no second LLM call)
     * nor stores a second scorecard; it only finishes what the first attempt left undone.
     */
    async scoreCall(callId: string, requestId = 'initial'): Promise<ScoreResult> {
      const earlier = await findScoreByRequest(db, callId, requestId);
      if (earlier) {
        await events.publish('call.scored', callId, { dedupeKey: requestId });

        return { overall: earlier.overall ?? 0, scorer: earlier.scorer };
      }

      const call = await requireCall(db, callId);
      if (!call.transcript_text) {
        throw ApplicationFailure.nonRetryable('call has no transcript to score', 'NoTranscript');
      }

      const utterances = timedUtterances(call.transcript_utterances);
      const scorecard = await scorer.score(call.transcript_text, {
        rubric: await workspaceRubric(db, call.workspace_id),
        ...(utterances && { utterances }),
        ...(call.rep_name && { repName: call.rep_name }),
      });
      if (scorecard.fallbackReason) {
        Context.current().log.warn('llm scorer fell back to the built-in rubric', {
          callId,
          reason: scorecard.fallbackReason,
        });
      }

      await saveScore(db, callId, {
        scorer: scorecard.scorer.name,
        scorerVersion: scorecard.scorer.version,
        overall: scorecard.overall,
        scorecard: scorecard as unknown as JsonObject,
        requestId,
      });
      await events.publish('call.scored', callId, { dedupeKey: requestId });

      return {
        overall: scorecard.overall,
        scorer: scorecard.scorer.name,
        ...(scorecard.fallbackReason && { fallbackReason: scorecard.fallbackReason }),
      };
    },
  };
}
