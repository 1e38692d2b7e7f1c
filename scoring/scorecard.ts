import { z } from 'zod';

import type { ConversationStats } from './conversation-stats.js';

/** Who said an evidence line; the same values a transcript turn's speaker takes. */
export const speakerSchema = z.enum(['agent', 'customer', 'unknown']);

/** One quoted transcript line backing a criterion's score. */
export const evidenceSchema = z.object({
  /** Zero-based index of the line in the original transcript, blank lines included. */
  line: z.number().int().min(0),
  speaker: speakerSchema,
  /** The line's text without its speaker label, cut to about 200 characters. */
  text: z.string(),
});

const oneLine = z
  .string()
  .min(1)
  .regex(/^[^\r\n]*$/, 'must be a single line');

/** The score of one rubric criterion, with the reason a reader can check against the transcript. */
export const criterionScoreSchema = z.object({
  key: z.string().min(1),
  name: z.string().min(1),
  score: z.number().min(0).max(100),
  /** The weight applied to this criterion in `overall`; 0 when it did not apply to the call. */
  weight: z.number().min(0),
  explanation: oneLine,
  evidence: z.array(evidenceSchema),
});

export const conversationStatsSchema = z.object({
  totalWords: z.number().int().min(0),
  agentWords: z.number().int().min(0),
  customerWords: z.number().int().min(0),
  agentTalkShare: z.number().min(0).max(1),
  customerTalkShare: z.number().min(0).max(1),
  turnCount: z.number().int().min(0),
  agentTurns: z.number().int().min(0),
  customerTurns: z.number().int().min(0),
  agentQuestions: z.number().int().min(0),
  customerQuestions: z.number().int().min(0),
  longestAgentMonologueWords: z.number().int().min(0),
}) satisfies z.ZodType<ConversationStats>;

/** The scorecard of one call, whichever scorer produced it. */
export const scorecardSchema = z.object({
  /** The weighted mean of the criteria scores, rounded to an integer. */
  overall: z.number().int().min(0).max(100),
  criteria: z.array(criterionScoreSchema),
  stats: conversationStatsSchema,
  summary: z.string(),
  strengths: z.array(z.string()),
  improvements: z.array(z.string()),
  scorer: z.object({ name: z.string().min(1), version: z.string().min(1) }),
  /** Set when the configured scorer failed and the built-in rubric scored the call instead. */
  fallbackReason: z.string().optional(),
});

/**
 * What a language model must answer with: the scorecard without the parts computed locally
 * (`stats`, `scorer`, `fallbackReason`).
 */
export const llmScorecardSchema = scorecardSchema.omit({
  stats: true,
  scorer: true,
  fallbackReason: true,
});

export type Evidence = z.infer<typeof evidenceSchema>;
export type CriterionScore = z.infer<typeof criterionScoreSchema>;
export type Scorecard = z.infer<typeof scorecardSchema>;
export type LlmScorecard = z.infer<typeof llmScorecardSchema>;

// `satisfies` above only checks that the schema accepts every ConversationStats; this checks the
// other direction, so a field added to the stats cannot be forgotten here.
type MutualCheck<A, B> = [A] extends [B] ? ([B] extends [A] ? true : never) : never;
const statsSchemaMatchesType: MutualCheck<
  z.infer<typeof conversationStatsSchema>,
  ConversationStats
> = true;
void statsSchemaMatchesType;

/**
 * The overall score both scorers report: the weighted mean of the criteria scores, rounded. A call
 * where no criterion carries weight scores 0.
 */
export function weightedOverall(criteria: ReadonlyArray<Pick<CriterionScore, 'score' | 'weight'>>) {
  let weighted = 0;
  let totalWeight = 0;

  for (const criterion of criteria) {
    weighted += criterion.score * criterion.weight;
    totalWeight += criterion.weight;
  }

  return totalWeight === 0 ? 0 : Math.round(weighted / totalWeight);
}

/** The longest quote an evidence item carries, in characters. */
export const maxEvidenceChars = 200;

/** Cuts a quote to `maxEvidenceChars`, at a word boundary when one is near, ending with `…`. */
export function quoteForEvidence(text: string): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  if (flat.length <= maxEvidenceChars) {
    return flat;
  }

  const cut = flat.slice(0, maxEvidenceChars - 1);
  const lastSpace = cut.lastIndexOf(' ');
  const atWord = lastSpace > maxEvidenceChars * 0.6 ? cut.slice(0, lastSpace) : cut;

  return `${atWord.trimEnd()}…`;
}
