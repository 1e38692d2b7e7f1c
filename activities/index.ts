import { createCallActivities, type CallActivityDeps } from './calls.js';
import { createDeliveryActivities, type DeliveryActivityDeps } from './deliveries.js';
import { createRecordingActivities, type RecordingActivityDeps } from './recordings/index.js';
import { createRetentionActivities, type RetentionActivityDeps } from './retention.js';
import { createScoringActivities, type ScoringActivityDeps } from './scoring.js';

export type ActivityDeps = Omit<CallActivityDeps, 'transcriptionConfigured'> &
  ScoringActivityDeps &
  RecordingActivityDeps &
  DeliveryActivityDeps &
  RetentionActivityDeps;

/** Every activity the worker registers, built from injected dependencies. */
export function createActivities(deps: ActivityDeps) {
  return {
    ...createCallActivities({ ...deps, transcriptionConfigured: deps.transcriber !== undefined }),
    ...createRecordingActivities(deps),
    ...createScoringActivities(deps),
    ...createDeliveryActivities(deps),
    ...createRetentionActivities(deps),
  };
}

export type Activities = ReturnType<typeof createActivities>;
