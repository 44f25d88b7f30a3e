import type { Document } from 'mongodb';
import { isOutage } from './aws/aws-errors.js';
import type { ResultsBucket } from './aws/results-bucket.js';
import { describeFailure, type MatchingRun, type RunLedger } from './aws/run-ledger.js';
import { type RunOutputKeys, runOutputKeys } from './aws/run-outputs.js';
import { ConflictError, NotFoundError } from './errors.js';
import { logger as defaultLogger } from './logger.js';
import {
  type MatchOutcome,
  matchesCsvChunks,
  matchPayments,
  resultJsonChunks,
  unmatchedPaymentsCsvChunks,
} from './matching/index.js';
import type { DocumentStore, SortSpec } from './store/document-store.js';

/** Collections the matcher reads (SPEC §3). */
export const ACCRUAL_COLLECTION = 'accrual';
export const PAYMENT_COLLECTION = 'payment';

/** Time kept in reserve before the Lambda limit: enough to delete partial outputs and record the failure. */
export const DEFAULT_SAFETY_MARGIN_MS = 15_000;

const CSV_CONTENT_TYPE = 'text/csv; charset=utf-8';
const JSON_CONTENT_TYPE = 'application/json; charset=utf-8';

type JobLogger = Pick<typeof defaultLogger, 'info' | 'warn' | 'error'>;

export interface MatchingJobDeps {
  readonly store: DocumentStore;
  readonly ledger: RunLedger;
  readonly bucket: ResultsBucket;
  /** Clock for `generatedAt` (tests). */
  readonly now?: () => Date;
  /** Milliseconds left before the invocation is killed (`context.getRemainingTimeInMillis`). */
  readonly deadline?: () => number;
  /** Stop this long before the deadline (default {@link DEFAULT_SAFETY_MARGIN_MS}). */
  readonly safetyMarginMs?: number;
  readonly logger?: JobLogger;
}

/** How a job invocation ended. `skipped`: another invocation owns the run, or it does not exist. */
export type MatchingJobOutcome =
  | { readonly status: 'succeeded'; readonly runId: string; readonly stats: MatchOutcome['stats'] }
  | {
      readonly status: 'failed';
      readonly runId: string;
      readonly reason: string;
      /** The cause was an outage (S3, DynamoDB, MongoDB unreachable): trying again later may succeed. */
      readonly transient: boolean;
    }
  | { readonly status: 'skipped'; readonly runId: string; readonly reason: string };

/** Thrown inside the job when the deadline is near; becomes the run's failure reason. */
class DeadlineError extends Error {
  constructor(phase: string, marginMs: number) {
    super(
      `timed out: less than ${Math.round(marginMs / 1000)} s of the Lambda time limit left while ${phase}`,
    );
    this.name = 'DeadlineError';
  }
}

/** The sort every input stream must arrive in: `(partition, date, id)`, or `(date, id)` without a partition field. */
export function inputSort(partitionBy: string | undefined): SortSpec {
  return partitionBy === undefined ? { date: 1, id: 1 } : { [partitionBy]: 1, date: 1, id: 1 };
}

/** Re-yields `source`, throwing once `signal` is aborted: stops reading inputs and feeding uploads. */
async function* untilAborted<T>(
  source: AsyncIterable<T> | Iterable<T>,
  signal: AbortSignal,
): AsyncGenerator<T> {
  for await (const item of source) {
    signal.throwIfAborted();
    yield item;
  }
  signal.throwIfAborted();
}

/**
 * One matching run, end to end: claim it in the ledger (`running`), stream accruals and payments
 * from the store in `(partition, date, id)` order, match, upload `matches.csv`,
 * `unmatched-payments.csv` and — last, so its presence means the set is complete — `result.json`
 * under `matching-runs/{runId}/`, then mark it `succeeded`.
 *
 * Any failure deletes whatever outputs were written and marks the run `failed` with a one-line
 * reason; a half-written run is never `succeeded`. Close to the deadline the job stops at the next
 * chunk (inputs and uploads are read through an AbortSignal) and fails with `timed out …`.
 * A run that another invocation already claimed (running or succeeded) is `skipped`.
 *
 * Throws only when the run cannot be claimed or its failure cannot be recorded (ledger
 * unreachable): work that cannot be recorded is not started.
 */
export async function runMatchingJob(runId: string, deps: MatchingJobDeps): Promise<MatchingJobOutcome> {
  const log = deps.logger ?? defaultLogger;
  let run: MatchingRun;
  try {
    run = await deps.ledger.markRunning(runId);
  } catch (error) {
    if (error instanceof ConflictError || error instanceof NotFoundError) {
      log.info('matching run not started: not claimable', { runId, reason: error.message });
      return { status: 'skipped', runId, reason: error.message };
    }
    throw error;
  }

  const marginMs = deps.safetyMarginMs ?? DEFAULT_SAFETY_MARGIN_MS;
  const controller = new AbortController();
  let phase = 'starting';
  let timer: NodeJS.Timeout | undefined;
  const checkDeadline = (): void => {
    if (deps.deadline && deps.deadline() < marginMs) controller.abort(new DeadlineError(phase, marginMs));
    controller.signal.throwIfAborted();
  };
  if (deps.deadline) {
    timer = setTimeout(
      () => controller.abort(new DeadlineError(phase, marginMs)),
      Math.max(0, deps.deadline() - marginMs),
    );
    timer.unref();
  }

  const keys = runOutputKeys(runId);
  const started = performance.now();
  const { signal } = controller;

  /** Reads, matches and uploads; every step and every chunk stops once `signal` is aborted. */
  const produceOutputs = async (): Promise<{ outcome: MatchOutcome; matchedAt: number }> => {
    checkDeadline();
    phase = 'reading and matching inputs';
    const sort = inputSort(run.partitionBy);
    const outcome = await matchPayments(
      untilAborted(deps.store.find<Document>(ACCRUAL_COLLECTION, {}, { sort }), signal),
      untilAborted(deps.store.find<Document>(PAYMENT_COLLECTION, {}, { sort }), signal),
      { policy: run.policy, ...(run.partitionBy === undefined ? {} : { partitionBy: run.partitionBy }) },
    );
    const matchedAt = performance.now();
    checkDeadline();

    phase = 'writing outputs';
    const meta = { runId, generatedAt: (deps.now?.() ?? new Date()).toISOString() };
    await deps.bucket.upload(
      keys.matchesCsv,
      untilAborted(matchesCsvChunks(outcome), signal),
      CSV_CONTENT_TYPE,
    );
    checkDeadline();
    await deps.bucket.upload(
      keys.unmatchedPaymentsCsv,
      untilAborted(unmatchedPaymentsCsvChunks(outcome), signal),
      CSV_CONTENT_TYPE,
    );
    checkDeadline();
    await deps.bucket.upload(
      keys.resultJson,
      untilAborted(resultJsonChunks(outcome, meta), signal),
      JSON_CONTENT_TYPE,
    );
    checkDeadline();
    return { outcome, matchedAt };
  };

  const work = produceOutputs();
  try {
    // The race matters when a step is stuck (a read or an S3 request that never answers): the
    // signal cannot interrupt an await, so without it the job would hang until Lambda kills it
    // and the run would stay `running`.
    const { outcome, matchedAt } = await unlessAborted(work, signal);

    phase = 'recording success';
    await deps.ledger.markSucceeded(runId, outcome.stats, keys);
    log.info('matching run succeeded', {
      runId,
      stats: outcome.stats,
      readAndMatchMs: Math.round(matchedAt - started),
      writeMs: Math.round(performance.now() - matchedAt),
    });
    return { status: 'succeeded', runId, stats: outcome.stats };
  } catch (error) {
    const cause = signal.aborted ? signal.reason : error;
    const reason = cause instanceof DeadlineError ? cause.message : describeFailure(cause);
    log.error('matching run failed', { runId, phase, reason, error: cause });
    // Give a step still in flight a moment to end, so that an upload finishing late cannot put an
    // object back after the clean-up below.
    if (signal.aborted) await settledWithin(work, Math.min(MAX_SETTLE_MS, marginMs / 4));
    await discardOutputs(deps.bucket, keys, log, runId);
    await deps.ledger.markFailed(runId, reason);
    return {
      status: 'failed',
      runId,
      reason,
      transient: !(cause instanceof DeadlineError) && isOutage(cause),
    };
  } finally {
    clearTimeout(timer);
  }
}

/** Longest wait, after the deadline abort, for a stuck step to end before outputs are deleted. */
const MAX_SETTLE_MS = 2_000;

/** `work`, or a rejection with the signal's reason as soon as `signal` aborts, whichever comes first. */
function unlessAborted<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason);
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

/** Resolves once `work` settles (either way) or after `ms`, whichever comes first. */
async function settledWithin(work: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    work.then(
      () => undefined,
      () => undefined,
    ),
    new Promise<void>((resolve) => {
      timer = setTimeout(resolve, ms);
    }),
  ]);
  clearTimeout(timer);
}

/** Best effort: a leftover object is harmless once the run is failed (outputs are only linked for succeeded runs). */
async function discardOutputs(bucket: ResultsBucket, keys: RunOutputKeys, log: JobLogger, runId: string) {
  try {
    await bucket.remove([keys.resultJson, keys.matchesCsv, keys.unmatchedPaymentsCsv]);
  } catch (error) {
    log.warn('could not delete partial outputs of a failed run', { runId, error });
  }
}
