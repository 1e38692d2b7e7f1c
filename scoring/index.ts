/**
 * Call scoring: an explainable built-in sales rubric by default, an LLM scorer when one is
 * configured. Both return the same `Scorecard`; see docs/scoring.md.
 */
import { scoreWithBuiltinRubric, type ScoreOptions } from './builtin-scorer.js';
import { createLlmScorer, type LlmScorerConfig } from './llm-scorer.js';
import type { Rubric } from './rubric.js';
import type { Scorecard } from './scorecard.js';

export type { ScoreOptions, Utterance } from './builtin-scorer.js';
export { BUILTIN_SCORER_VERSION, scoreWithBuiltinRubric } from './builtin-scorer.js';
export type { LlmScorerConfig, LlmScorerErrorCode } from './llm-scorer.js';
export { LLM_SCORER_VERSION, LlmScorerError, createLlmScorer } from './llm-scorer.js';
export type { CriterionKey, Rubric, RubricOverride } from './rubric.js';
export {
  defaultRubric,
  mergeRubric,
  rubricFor,
  rubricOverrideSchema,
  rubricSchema,
} from './rubric.js';
export type { CriterionScore, Evidence, Scorecard } from './scorecard.js';
export { llmScorecardSchema, scorecardSchema } from './scorecard.js';

/** Anything that turns a transcript into a scorecard. */
export type Scorer = {
  /** `builtin` or `llm:<model>`; a fallback scorecard names the built-in scorer instead. */
  name: string;
  score(transcript: string, options?: ScoreOptions): Promise<Scorecard>;
};

/** Which scorer to run: the built-in rubric, or an OpenAI-compatible model. */
export type ScorerConfig = { kind: 'builtin' } | ({ kind: 'llm' } & LlmScorerConfig);

/**
 * Creates the configured scorer. `rubric` is the default for calls that pass none in their
 * options (a workspace's merged rubric, typically).
 */
export function createScorer(config: ScorerConfig, rubric?: Rubric): Scorer {
  if (config.kind === 'llm') {
    return createLlmScorer({ ...config, rubric: rubric ?? config.rubric });
  }

  return {
    name: 'builtin',
    score: async (transcript, options = {}) =>
      scoreWithBuiltinRubric(transcript, { ...options, rubric: options.rubric ?? rubric }),
  };
}
