import type { Context } from 'aws-lambda';
import { logger } from '../../logger.js';
import { runMatchingJob } from '../job.js';
import { parseMatchingRunInput } from './invocation.js';
import {
  discardMalformed,
  jobDeps,
  productionWorkerDeps,
  retryIfTransient,
  unrecordedFailure,
  type WorkerDeps,
  type WorkerResult,
  workerHandler,
} from './worker-core.js';

export { productionWorkerDeps, type WorkerDeps, type WorkerResult } from './worker-core.js';

/**
 * The `matchingWorker` function's logic, independent of Lambda plumbing: the asynchronous
 * invocation `{ kind: 'matching-run', runId }` sent by `POST /matching-runs` runs the job for that
 * run. (PaymentsImported events go to `paymentsImportedWorker`, lib/runs/workers/payments-imported-worker.ts:
 * this module loads neither Powertools idempotency nor the event schemas.) Malformed events are
 * logged and discarded, never thrown, so they are not retried.
 */
export function createMatchingWorker(deps: WorkerDeps) {
  return async function handleMatchingRun(event: unknown, context: Context): Promise<WorkerResult> {
    const input = parseMatchingRunInput(event);
    if (input.kind === 'invalid') return discardMalformed(input.reason);
    try {
      logger.appendKeys({ runId: input.runId });
      return retryIfTransient(deps, await runMatchingJob(input.runId, jobDeps(deps, context)));
    } catch (error) {
      return unrecordedFailure(deps, error);
    }
  };
}

/** The Lambda handler: production dependencies created at cold start. */
export function matchingWorkerHandler(deps: WorkerDeps = productionWorkerDeps()) {
  return workerHandler(createMatchingWorker(deps));
}
