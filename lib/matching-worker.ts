import { IdempotencyAlreadyInProgressError, makeIdempotent } from '@aws-lambda-powertools/idempotency';
import type { BasePersistenceLayer } from '@aws-lambda-powertools/idempotency/persistence';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import type { Context } from 'aws-lambda';
import { idempotencyConfig, idempotencyPersistenceLayer } from './aws/idempotency.js';
import { ResultsBucket } from './aws/results-bucket.js';
import { RunLedger } from './aws/run-ledger.js';
import { config } from './config.js';
import { type PaymentsImportedDetail, parseWorkerInput } from './events.js';
import { logger } from './logger.js';
import { DEFAULT_POLICY } from './matching/types.js';
import { type MatchingJobDeps, type MatchingJobOutcome, runMatchingJob } from './matching-job.js';
import { derivedRunId } from './matching-runs.js';
import { getDocumentStore } from './store/get-document-store.js';
import { lazyDocumentStore } from './store/lazy-store.js';

/** A run failed because of an outage and was recorded as failed; thrown so Lambda retries the invocation. */
class TransientRunFailure extends Error {
  constructor(runId: string, reason: string) {
    super(`matching run ${runId} failed transiently: ${reason}`);
    this.name = 'TransientRunFailure';
  }
}

/**
 * A PaymentsImported delivery found its run `running` under another, live invocation. Thrown (not
 * returned as a duplicate) so that Powertools idempotency forgets this delivery instead of
 * remembering "duplicate" for IDEMPOTENCY_TTL_SECONDS: if the holder dies, a later retry or
 * redelivery must still be able to run the import.
 */
export class RunInProgressError extends Error {
  constructor(readonly runId: string) {
    super(`matching run ${runId} is running in another invocation; try again later`);
    this.name = 'RunInProgressError';
  }
}

/** What one worker invocation did; returned for synchronous invocations and tests. */
export type WorkerResult =
  | MatchingJobOutcome
  | { readonly status: 'duplicate'; readonly runId: string; readonly reason: string }
  | { readonly status: 'discarded'; readonly reason: string };

export interface WorkerDeps {
  readonly ledger: RunLedger;
  readonly bucket: ResultsBucket;
  readonly store: () => Promise<MatchingJobDeps['store']>;
  readonly persistenceStore: BasePersistenceLayer;
  readonly idempotencyTtlSeconds?: number;
  readonly safetyMarginMs?: number;
  /**
   * Let Lambda's asynchronous retries (then the on-failure destination) handle what is worth
   * retrying: the invocation throws when a failure could not be recorded, or when a run failed
   * because of an outage (it is recorded as failed first; the retry claims it again). Off under
   * serverless-offline, where a rejected asynchronous invocation is an unhandled rejection that
   * stops the whole offline process.
   */
  readonly lambdaRetries: boolean;
}

/** The worker's dependencies from the configuration (exported for tests of that wiring). */
export function productionWorkerDeps(): WorkerDeps {
  const cfg = config();
  return {
    ledger: new RunLedger(),
    bucket: new ResultsBucket(),
    store: () => getDocumentStore(cfg),
    persistenceStore: idempotencyPersistenceLayer(cfg),
    idempotencyTtlSeconds: cfg.IDEMPOTENCY_TTL_SECONDS,
    lambdaRetries: !cfg.IS_OFFLINE,
    ...(cfg.WORKER_SAFETY_MARGIN_MS === undefined ? {} : { safetyMarginMs: cfg.WORKER_SAFETY_MARGIN_MS }),
  };
}

/**
 * The matching worker's logic, independent of Lambda plumbing. Two inputs:
 * - `{ kind: 'matching-run', runId }` from `POST /matching-runs`: run the job for that run;
 * - a `PaymentsImported` event: derive the run id from `detail.importId`, create the run and run
 *   it. Redeliveries are caught twice: Powertools idempotency records in DynamoDB (key = importId,
 *   TTL) and the run ledger's conditional create (same derived run id → `created: false`).
 * Malformed events are logged and discarded, never thrown, so they are not redelivered forever.
 */
export function createMatchingWorker(deps: WorkerDeps) {
  const jobDeps = (context: Context): MatchingJobDeps => ({
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
  });

  const idempotency = idempotencyConfig({
    eventKeyJmesPath: 'importId',
    ...(deps.idempotencyTtlSeconds === undefined ? {} : { expiresAfterSeconds: deps.idempotencyTtlSeconds }),
  });

  const startImportRun = makeIdempotent(
    async (detail: PaymentsImportedDetail, context: Context): Promise<WorkerResult> => {
      const runId = derivedRunId('event', detail.importId);
      const { run, created } = await deps.ledger.create({
        runId,
        trigger: 'event',
        policy: detail.policy ?? DEFAULT_POLICY,
        ...(detail.partitionBy === undefined ? {} : { partitionBy: detail.partitionBy }),
      });
      // A queued or failed run is taken up again (Lambda retrying an invocation that crashed or
      // failed transiently), and so is a stale running one (its worker died) or one this very
      // invocation claimed before it crashed; markRunning lets only one invocation claim it.
      if (!created && run.status === 'succeeded') return duplicateOf(runId);
      if (
        !created &&
        run.status === 'running' &&
        !deps.ledger.isStale(run) &&
        run.owner !== context.awsRequestId
      ) {
        throw new RunInProgressError(runId);
      }
      logger.info(
        created
          ? 'PaymentsImported: matching run created'
          : `PaymentsImported: resuming the ${run.status} run`,
        {
          runId,
          paymentCount: detail.paymentCount,
        },
      );
      const outcome = await runMatchingJob(runId, jobDeps(context));
      if (outcome.status !== 'skipped') return retryIfTransient(outcome);
      // Another invocation claimed the run between our read and our claim.
      if ((await deps.ledger.get(runId))?.status === 'succeeded') return duplicateOf(runId);
      throw new RunInProgressError(runId);
    },
    // (detail, context) has the handler shape: Powertools hashes `detail` and registers the context itself.
    { persistenceStore: deps.persistenceStore, config: idempotency },
  );

  function duplicateOf(runId: string): WorkerResult {
    logger.info('duplicate PaymentsImported event: the run already succeeded', { runId });
    return { status: 'duplicate', runId, reason: 'run already succeeded' };
  }

  /** Throws for a run that failed because of an outage, so Lambda retries the invocation later. */
  function retryIfTransient(outcome: MatchingJobOutcome): MatchingJobOutcome {
    if (deps.lambdaRetries && outcome.status === 'failed' && outcome.transient) {
      throw new TransientRunFailure(outcome.runId, outcome.reason);
    }
    return outcome;
  }

  async function onPaymentsImported(detail: PaymentsImportedDetail, context: Context): Promise<WorkerResult> {
    try {
      return await startImportRun(detail, context);
    } catch (error) {
      if (!(error instanceof IdempotencyAlreadyInProgressError)) throw error;
      const runId = derivedRunId('event', detail.importId);
      logger.info('duplicate PaymentsImported event while the first delivery is in progress', { runId });
      return { status: 'duplicate', runId, reason: 'first delivery in progress' };
    }
  }

  return async function handleWorkerEvent(event: unknown, context: Context): Promise<WorkerResult> {
    const input = parseWorkerInput(event);
    try {
      switch (input.kind) {
        case 'invalid':
          logger.error('discarding a malformed worker event', { reason: input.reason });
          return { status: 'discarded', reason: input.reason };
        case 'matching-run':
          logger.appendKeys({ runId: input.runId });
          return retryIfTransient(await runMatchingJob(input.runId, jobDeps(context)));
        case 'payments-imported':
          logger.appendKeys({ importId: input.event.detail.importId, eventId: input.event.id });
          return await onPaymentsImported(input.event.detail, context);
      }
    } catch (error) {
      if (error instanceof RunInProgressError) {
        logger.info('PaymentsImported: the run is in progress in another invocation', { runId: error.runId });
        // serverless-offline: a thrown asynchronous invocation would stop the whole process.
        if (!deps.lambdaRetries)
          return { status: 'duplicate', runId: error.runId, reason: 'run already running' };
        throw error;
      }
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
  };
}

/** The Lambda handler: Powertools context in every log line, production dependencies created at cold start. */
export function matchingWorkerHandler(deps: WorkerDeps = productionWorkerDeps()) {
  return middy<unknown, WorkerResult>()
    .use(injectLambdaContext(logger, { resetKeys: true }))
    .handler(createMatchingWorker(deps));
}
