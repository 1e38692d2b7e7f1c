import { readFileSync } from 'node:fs';

import type { CriterionScore, Scorecard } from '../../scoring/scorecard.js';

const fixtureDir = new URL('../fixtures/transcripts/', import.meta.url);

/** A transcript from tests/fixtures/transcripts, by file name without `.txt`. */
export function fixture(name: string): string {
  return readFileSync(new URL(`${name}.txt`, fixtureDir), 'utf8');
}

/** One criterion of a scorecard; fails the test when the scorecard lacks it. */
export function criterion(scorecard: Scorecard, key: string): CriterionScore {
  const found = scorecard.criteria.find((candidate) => candidate.key === key);
  if (!found) {
    throw new Error(`scorecard has no criterion ${key}`);
  }

  return found;
}

/** The weighted mean the overall must equal, computed independently of the scorer. */
export function expectedOverall(scorecard: {
  criteria: ReadonlyArray<{ score: number; weight: number }>;
}): number {
  const weight = scorecard.criteria.reduce((sum, item) => sum + item.weight, 0);
  const weighted = scorecard.criteria.reduce((sum, item) => sum + item.score * item.weight, 0);

  return weight === 0 ? 0 : Math.round(weighted / weight);
}
