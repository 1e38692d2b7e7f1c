import { createCallActivities, type CallActivityDeps } from './calls.js';
import { createScoringActivities, type ScoringActivityDeps } from './scoring.js';

export type ActivityDeps = CallActivityDeps & ScoringActivityDeps;

/** Every activity the worker registers, built from injected dependencies. */
export function createActivities(deps: ActivityDeps) {
  return {
    ...createCallActivities(deps),
    ...createScoringActivities(deps),
  };
}

export type Activities = ReturnType<typeof createActivities>;
