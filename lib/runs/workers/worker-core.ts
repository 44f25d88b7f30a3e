import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import type { Context } from 'aws-lambda';
import { config } from '../../config.js';
import { logger } from '../../logger.js';
import { getDocumentStore } from '../../store/get-document-store.js';
import { lazyDocumentStore } from '../../store/lazy-store.js';
import type { MatchingJobDeps } from '../job.js';
import type { MatchingJobOutcome } from '../job-outcome.js';
import { RunLedger } from '../ledger.js';
import { lazyOutputBucket, type OutputBucket } from '../output-bucket.js';

/**
 * What the two worker functions share: `matchingWorker` (lib/runs/workers/matching-worker.ts, the asynchronous
 * invocation from `POST /matching-runs`) and `paymentsImportedWorker`
 * (lib/runs/workers/payments-imported-worker.ts, the EventBridge `PaymentsImported` event). Nothing here loads
 * Powertools idempotency or the PaymentsImported schemas.
 */

/** A run failed because of an outage and was recorded as failed; thrown so Lambda retries the invocation. */
export class TransientRunFailure extends Error {
  constructor(runId: string, reason: string) {
    super(`matching run ${runId} failed transiently: ${reason}`);
    this.name = 'TransientRunFailure';
  }
}

/** What one worker invocation did; returned for synchronous invocations and tests. */
export type WorkerResult =
  | MatchingJobOutcome
  | { readonly status: 'duplicate'; readonly runId: string; readonly reason: string }
  /** A sharded run handed to the state machine (PaymentsImported with `shards`). */
  | { readonly status: 'dispatched'; readonly runId: string }
  | { readonly status: 'discarded'; readonly reason: string };

export interface WorkerDeps {
  readonly ledger: RunLedger;
  readonly bucket: OutputBucket;
  readonly store: () => Promise<MatchingJobDeps['store']>;
  readonly safetyMarginMs?: number;
  /** RUN_PROGRESS_INTERVAL_MS: see MatchingJobDeps.progressIntervalMs. */
  readonly progressIntervalMs?: number;
  /**
   * Let Lambda's asynchronous retries (then the on-failure destination) handle what is worth
   * retrying: the invocation throws when a failure could not be recorded, or when a run failed
   * because of an outage (it is recorded as failed first; the retry claims it again). Off under
   * serverless-offline, where a rejected asynchronous invocation is an unhandled rejection that
   * stops the whole offline process.
   */
  readonly lambdaRetries: boolean;
}

/** The dependencies both workers take from the configuration (exported for tests of that wiring). */
export function productionWorkerDeps(): WorkerDeps {
  const cfg = config();
  return {
    ledger: new RunLedger(),
    // The S3 client loads when a run first writes: see lib/runs/output-bucket.ts.
    bucket: lazyOutputBucket(async () => new (await import('../results-bucket.js')).ResultsBucket()),
    store: () => getDocumentStore(cfg),
    lambdaRetries: !cfg.IS_OFFLINE,
    progressIntervalMs: cfg.RUN_PROGRESS_INTERVAL_MS,
    ...(cfg.WORKER_SAFETY_MARGIN_MS === undefined ? {} : { safetyMarginMs: cfg.WORKER_SAFETY_MARGIN_MS }),
  };
}

/** The matching job's dependencies for one invocation. */
export function jobDeps(deps: WorkerDeps, context: Context): MatchingJobDeps {
  return {
    // Connected on first read, inside the job: an unreachable database then fails the run with
    // that reason (recorded, retried) instead of failing the invocation before anything is recorded.
    store: lazyDocumentStore(deps.store),
    ledger: deps.ledger,
    bucket: deps.bucket,
    deadline: () => context.getRemainingTimeInMillis(),
    // Lambda's retries of an asynchronous invocation keep its request id: a retry of a worker
    // that crashed after claiming the run owns that claim and may take it back at once.
    owner: context.awsRequestId,
    ...(deps.safetyMarginMs === undefined ? {} : { safetyMarginMs: deps.safetyMarginMs }),
    ...(deps.progressIntervalMs === undefined ? {} : { progressIntervalMs: deps.progressIntervalMs }),
  };
}

/** Throws for a run that failed because of an outage, so Lambda retries the invocation later. */
export function retryIfTransient(deps: WorkerDeps, outcome: MatchingJobOutcome): MatchingJobOutcome {
  if (deps.lambdaRetries && outcome.status === 'failed' && outcome.transient) {
    throw new TransientRunFailure(outcome.runId, outcome.reason);
  }
  return outcome;
}

/** The answer to a malformed event: logged and returned, never thrown, so it is not retried forever. */
export function discardMalformed(reason: string): WorkerResult {
  logger.error('discarding a malformed worker event', { reason });
  return { status: 'discarded', reason };
}

/**
 * The answer to a well-formed event that asks for something another one already has (an importId
 * reused with another policy, partitionBy or limitationPeriod): discarded like a malformed one, but a WARN, since
 * nothing is broken; the producer reused an id.
 */
export function discardConflicting(reason: string): WorkerResult {
  logger.warn('discarding a PaymentsImported event: its importId is already used for another request', {
    reason,
  });
  return { status: 'discarded', reason };
}

/**
 * What a worker does with an error its job did not record: logs it, then rethrows it for Lambda's
 * retries or (serverless-offline) returns it as discarded.
 */
export function unrecordedFailure(deps: WorkerDeps, error: unknown): WorkerResult {
  if (error instanceof TransientRunFailure) {
    logger.warn('matching run failed transiently; leaving it to the Lambda retry', {
      reason: error.message,
    });
  } else {
    logger.error('matching worker failed without recording the failure', { error });
  }
  if (deps.lambdaRetries) throw error;
  return { status: 'discarded', reason: 'failure could not be recorded' };
}

/** A worker as a Lambda handler: Powertools context in every log line. */
export function workerHandler(handle: (event: unknown, context: Context) => Promise<WorkerResult>) {
  return middy<unknown, WorkerResult>()
    .use(injectLambdaContext(logger, { resetKeys: true }))
    .handler(handle);
}
