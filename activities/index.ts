import { createCallActivities, type CallActivityDeps } from './calls.js';
import { createRecordingActivities, type RecordingActivityDeps } from './recordings/index.js';
import { createScoringActivities, type ScoringActivityDeps } from './scoring.js';

export type ActivityDeps = Omit<CallActivityDeps, 'transcriptionConfigured'> &
  ScoringActivityDeps &
  RecordingActivityDeps;

/** Every activity the worker registers, built from injected dependencies. */
export function createActivities(deps: ActivityDeps) {
  return {
    ...createCallActivities({ ...deps, transcriptionConfigured: deps.transcriber !== undefined }),
    ...createRecordingActivities(deps),
    ...createScoringActivities(deps),
  };
}

export type Activities = ReturnType<typeof createActivities>;
