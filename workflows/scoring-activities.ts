import { proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';

/**
 * Scoring as every workflow calls it. An LLM that is down falls back to the built-in rubric inside
 * the activity, so retries here cover database and worker failures.
 */
export const { scoreCall } = proxyActivities<Activities>({
  startToCloseTimeout: '10 minutes',
  retry: {
    initialInterval: '2 seconds',
    backoffCoefficient: 2,
    maximumInterval: '2 minutes',
    maximumAttempts: 20,
  },
});
