import { scoreCall } from './scoring-activities.js';

export type RescoreCallInput = { callId: string; requestId: string };

/**
 * Scores a call's stored transcript again (after a rubric change, say), without downloading or
 * transcribing anything. The scorecard joins the call's history and becomes its current score.
 */
export async function rescoreCall({ callId, requestId }: RescoreCallInput): Promise<{ overall: number }> {
  const { overall } = await scoreCall(callId, requestId);

  return { overall };
}
