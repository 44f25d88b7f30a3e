import {
  IdempotencyAlreadyInProgressError,
  IdempotencyValidationError,
  makeIdempotent,
} from '@aws-lambda-powertools/idempotency';
import type { BasePersistenceLayer } from '@aws-lambda-powertools/idempotency/persistence';
import type { ResponseHook } from '@aws-lambda-powertools/idempotency/types';
import type { Context } from 'aws-lambda';
import { config } from '../../config.js';
import { logger } from '../../logger.js';
import { StepFunctionsDispatcher, type WorkerDispatcher } from '../dispatcher.js';
import { runMatchingJob } from '../job.js';
import type { MatchingRun } from '../ledger.js';
import { describeRequest, requestDifferences, runRequest } from '../request.js';
import { derivedRunId } from '../run-id.js';
import { type PaymentsImportedDetail, parsePaymentsImportedInput } from './events.js';
import { idempotencyConfig, idempotencyPersistenceLayer } from './idempotency.js';
import {
  discardConflicting,
  discardMalformed,
  jobDeps,
  productionWorkerDeps,
  retryIfTransient,
  unrecordedFailure,
  type WorkerDeps,
  type WorkerResult,
  workerHandler,
} from './worker-core.js';

export type { WorkerResult } from './worker-core.js';

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

/** A redelivery answered from the idempotency record started nothing: a duplicate of the recorded run. */
const duplicateDelivery: ResponseHook = (recorded) => {
  const runId =
    typeof recorded === 'object' && recorded !== null && !Array.isArray(recorded)
      ? recorded.runId
      : undefined;
  if (typeof runId !== 'string') return recorded;
  logger.info('duplicate PaymentsImported event: answered from the idempotency record', { runId });
  return {
    status: 'duplicate',
    runId,
    reason: `event already delivered, run ${String((recorded as { status?: unknown }).status)}`,
  };
};

export interface PaymentsImportedWorkerDeps extends WorkerDeps {
  readonly persistenceStore: BasePersistenceLayer;
  readonly idempotencyTtlSeconds?: number;
  /** Starts sharded runs (`detail.shards`): the state machine; default from the configuration. */
  readonly stateMachine?: WorkerDispatcher;
}

/** The worker's dependencies from the configuration (exported for tests of that wiring). */
export function productionPaymentsImportedWorkerDeps(): PaymentsImportedWorkerDeps {
  const cfg = config();
  return {
    ...productionWorkerDeps(),
    persistenceStore: idempotencyPersistenceLayer(cfg),
    idempotencyTtlSeconds: cfg.IDEMPOTENCY_TTL_SECONDS,
  };
}

/**
 * The `paymentsImportedWorker` function's logic, independent of Lambda plumbing: a
 * `PaymentsImported` event derives the run id from `detail.importId`, creates the run and runs it.
 * Redeliveries are caught twice: Powertools idempotency records in DynamoDB (key = importId, TTL)
 * and the run ledger's conditional create (same derived run id → `created: false`). Malformed
 * events are logged and discarded, never thrown, so they are not redelivered forever.
 */
export function createPaymentsImportedWorker(deps: PaymentsImportedWorkerDeps) {
  const idempotency = idempotencyConfig({
    eventKeyJmesPath: 'importId',
    // A redelivery must ask for the same run: another policy, partitionBy or limitationPeriod
    // under a remembered importId is an IdempotencyValidationError, deferred to the ledger below.
    // (`shards` is left out: it changes how the run is executed, not its result.)
    // (The detail is hashed as parsed, so the period is already canonical: P36M and P3Y agree.)
    payloadValidationJmesPath: '[policy, partitionBy, limitationPeriod]',
    responseHook: duplicateDelivery,
    ...(deps.idempotencyTtlSeconds === undefined ? {} : { expiresAfterSeconds: deps.idempotencyTtlSeconds }),
  });

  /**
   * Creates the event's run (or finds it) and runs it. Safe without the idempotency record: the
   * ledger's conditional create gives one run per importId, and `markRunning` lets one invocation
   * claim it.
   */
  async function startRun(detail: PaymentsImportedDetail, context: Context): Promise<WorkerResult> {
    const runId = derivedRunId('event', detail.importId);
    const asked = runRequest(detail);
    const { run, created } = await deps.ledger.create({
      runId,
      trigger: 'event',
      ...asked,
      importId: detail.importId,
    });
    if (!created && requestDifferences(run, asked).length > 0) {
      // Not retried: the same importId cannot mean two different runs.
      return discardConflicting(
        `importId ${detail.importId} was already used with ${describeRequest(run)}; ` +
          `this event asks for ${describeRequest(asked)}`,
      );
    }
    // A queued or failed run is taken up again (Lambda retrying an invocation that crashed or
    // failed transiently), and so is a stale running one (its worker died) or one this very
    // invocation claimed before it crashed; markRunning lets only one invocation claim it.
    if (!created && run.status === 'succeeded') return duplicateOf(runId);
    // The recorded run decides how it runs (`shards` is not part of its identity).
    if (run.shards !== undefined) return startSharded(run, created);
    if (
      !created &&
      run.status === 'running' &&
      !deps.ledger.isStale(run) &&
      run.owner !== context.awsRequestId
    ) {
      throw new RunInProgressError(runId);
    }
    logger.info(
      created ? 'PaymentsImported: matching run created' : `PaymentsImported: resuming the ${run.status} run`,
      {
        runId,
        paymentCount: detail.paymentCount,
      },
    );
    const outcome = await runMatchingJob(runId, jobDeps(deps, context));
    if (outcome.status !== 'skipped') return retryIfTransient(deps, outcome);
    // Another invocation claimed the run between our read and our claim.
    if ((await deps.ledger.get(runId))?.status === 'succeeded') return duplicateOf(runId);
    throw new RunInProgressError(runId);
  }

  // (detail, context) has the handler shape: Powertools hashes `detail` and registers the context itself.
  const startImportRun = makeIdempotent(startRun, {
    persistenceStore: deps.persistenceStore,
    config: idempotency,
  });

  /**
   * A sharded run is not run here: its execution of the state machine is started (or found: the
   * execution name is the run's attempt, lib/runs/dispatcher.ts) and this delivery is done. A run
   * a live execution holds is a duplicate; a queued, failed or stale one gets a new execution,
   * whose plan step claims it.
   */
  async function startSharded(run: MatchingRun, created: boolean): Promise<WorkerResult> {
    if (!created && run.status === 'running' && !deps.ledger.isStale(run)) {
      logger.info('duplicate PaymentsImported event: the sharded run is running', { runId: run.runId });
      return { status: 'duplicate', runId: run.runId, reason: 'run already running' };
    }
    await (deps.stateMachine ?? new StepFunctionsDispatcher()).dispatch(run.runId, run);
    logger.info('PaymentsImported: sharded run handed to the state machine', {
      runId: run.runId,
      shards: run.shards,
      attempts: run.attempts,
    });
    return { status: 'dispatched', runId: run.runId };
  }

  function duplicateOf(runId: string): WorkerResult {
    logger.info('duplicate PaymentsImported event: the run already succeeded', { runId });
    return { status: 'duplicate', runId, reason: 'run already succeeded' };
  }

  async function onPaymentsImported(detail: PaymentsImportedDetail, context: Context): Promise<WorkerResult> {
    try {
      return await startImportRun(detail, context);
    } catch (error) {
      // Either error defers to the run ledger, which knows better than the record:
      // - in progress: the record of an invocation that crashed stays in progress until that
      //   invocation's timeout, and Lambda retries it sooner, with the same request id. A retry
      //   takes its own claim back and a stale run is taken over; a run live in another
      //   invocation is left to it (if that one crashes, its own retries take the run back).
      // - payload mismatch: the hash is of [policy, partitionBy, limitationPeriod] as sent (a
      //   missing policy and `chronological` differ), and records written before validation (or
      //   before the period was part of the hash) have no hash, or another one. The ledger
      //   compares the normalised values and discards a real mismatch.
      const deferred =
        error instanceof IdempotencyAlreadyInProgressError || error instanceof IdempotencyValidationError;
      if (!deferred) throw error;
      const runId = derivedRunId('event', detail.importId);
      logger.info('PaymentsImported: the idempotency record defers to the run ledger', {
        runId,
        record: error instanceof IdempotencyValidationError ? 'payload differs' : 'in progress',
      });
      try {
        return await startRun(detail, context);
      } catch (inner) {
        if (!(inner instanceof RunInProgressError)) throw inner;
        logger.info('duplicate PaymentsImported event while the first delivery is in progress', { runId });
        return { status: 'duplicate', runId, reason: 'first delivery in progress' };
      }
    }
  }

  return async function handlePaymentsImported(event: unknown, context: Context): Promise<WorkerResult> {
    const input = parsePaymentsImportedInput(event);
    if (input.kind === 'invalid') return discardMalformed(input.reason);
    try {
      logger.appendKeys({ importId: input.event.detail.importId, eventId: input.event.id });
      return await onPaymentsImported(input.event.detail, context);
    } catch (error) {
      if (error instanceof RunInProgressError) {
        logger.info('PaymentsImported: the run is in progress in another invocation', { runId: error.runId });
        // serverless-offline: a thrown asynchronous invocation would stop the whole process.
        if (!deps.lambdaRetries)
          return { status: 'duplicate', runId: error.runId, reason: 'run already running' };
        throw error;
      }
      return unrecordedFailure(deps, error);
    }
  };
}

/** The Lambda handler: production dependencies created at cold start. */
export function paymentsImportedWorkerHandler(
  deps: PaymentsImportedWorkerDeps = productionPaymentsImportedWorkerDeps(),
) {
  return workerHandler(createPaymentsImportedWorker(deps));
}
