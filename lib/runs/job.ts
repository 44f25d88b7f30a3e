import type { Document } from 'mongodb';
import { isOutage } from '../aws/aws-errors.js';
import { ConflictError, NotFoundError } from '../errors.js';
import { logger as defaultLogger } from '../logger.js';
import {
  type MatchOutcome,
  type MatchStats,
  matchesCsvChunks,
  matchPayments,
  matchPaymentsByPartition,
  type Policy,
  resultJsonChunks,
  unmatchedPaymentsCsvChunks,
} from '../matching/index.js';
import type { DocumentStore, SortSpec } from '../store/document-store.js';
import { describeFailure, type MatchingRun, type RunLedger } from './ledger.js';
import type { OutputBucket } from './output-bucket.js';
import { type RunOutputKeys, runOutputKeys } from './outputs.js';
import { SpilledOutputs } from './spill.js';

/** Collections the matcher reads (SPEC §3). */
export const ACCRUAL_COLLECTION = 'accrual';
export const PAYMENT_COLLECTION = 'payment';

/** Time kept in reserve before the Lambda limit: enough to delete partial outputs and record the failure. */
export const DEFAULT_SAFETY_MARGIN_MS = 15_000;

/**
 * How often the deadline is read while a step is stuck. Reading it again (rather than setting one
 * timer from the first reading) keeps the deadline a function: whatever it reports, the job
 * notices within this long.
 */
export const DEADLINE_POLL_MS = 250;

const CSV_CONTENT_TYPE = 'text/csv; charset=utf-8';
const JSON_CONTENT_TYPE = 'application/json; charset=utf-8';

type JobLogger = Pick<typeof defaultLogger, 'info' | 'warn' | 'error'>;

export interface MatchingJobDeps {
  readonly store: DocumentStore;
  readonly ledger: RunLedger;
  readonly bucket: OutputBucket;
  /** Clock for `generatedAt` (tests). */
  readonly now?: () => Date;
  /**
   * Milliseconds left before the invocation is killed (`context.getRemainingTimeInMillis`). Read
   * between steps and at least every {@link DEADLINE_POLL_MS} while a step is in progress.
   */
  readonly deadline?: () => number;
  /**
   * Who claims the run: the worker invocation's request id, which Lambda's retries of it reuse.
   * Such a retry may take back a run its crashed invocation left `running` (RunLedger.markRunning).
   */
  readonly owner?: string;
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
 * under `matching-runs/{runId}/`, then mark it `succeeded`. With a partition field, each partition's
 * outputs are spilled to temporary files as it closes (its records are then released) and the
 * uploads stream those files, so memory is bounded by the largest partition.
 *
 * Any failure before the outputs are complete deletes whatever was written and marks the run
 * `failed` with a one-line reason; a half-written run is never `succeeded`. Close to the deadline
 * the job stops at the next chunk (inputs and uploads are read through an AbortSignal) and fails
 * with `timed out …`. A run that another invocation already claimed (running or succeeded) is
 * `skipped`.
 *
 * Once all three outputs exist, nothing deletes them while the ledger may say `succeeded`: if
 * recording success fails (its answer may be lost after the write landed), the run is read back;
 * succeeded means done, still ours and `running` means the write did not land (the run is failed,
 * then its outputs removed), anything unreadable leaves the outputs in place and throws.
 *
 * Throws when the run cannot be claimed, or its outcome cannot be recorded (ledger unreachable):
 * the invocation's retry (same `owner`) takes the run back.
 */
export async function runMatchingJob(runId: string, deps: MatchingJobDeps): Promise<MatchingJobOutcome> {
  const log = deps.logger ?? defaultLogger;
  let run: MatchingRun;
  try {
    run = await deps.ledger.markRunning(runId, deps.owner);
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
  const { deadline } = deps;
  const watchDeadline = (): void => {
    if (!deadline) return;
    const spare = deadline() - marginMs;
    if (spare < 0) {
      controller.abort(new DeadlineError(phase, marginMs));
      return;
    }
    timer = setTimeout(watchDeadline, Math.min(DEADLINE_POLL_MS, spare));
    timer.unref();
  };
  watchDeadline();

  const keys = runOutputKeys(runId);
  const started = performance.now();
  const { signal } = controller;

  /**
   * Uploads the three outputs, `result.json` last; every chunk stops once `signal` is aborted.
   * `generatedAt` is taken when writing starts.
   */
  const upload = async (outputs: {
    readonly matchesCsv: () => Iterable<string> | AsyncIterable<string>;
    readonly unmatchedPaymentsCsv: () => Iterable<string> | AsyncIterable<string>;
    readonly resultJson: (meta: {
      readonly runId: string;
      readonly generatedAt: string;
    }) => Iterable<string> | AsyncIterable<string>;
  }): Promise<void> => {
    phase = 'writing outputs';
    const meta = { runId, generatedAt: (deps.now?.() ?? new Date()).toISOString() };
    await deps.bucket.upload(keys.matchesCsv, untilAborted(outputs.matchesCsv(), signal), CSV_CONTENT_TYPE);
    checkDeadline();
    await deps.bucket.upload(
      keys.unmatchedPaymentsCsv,
      untilAborted(outputs.unmatchedPaymentsCsv(), signal),
      CSV_CONTENT_TYPE,
    );
    checkDeadline();
    await deps.bucket.upload(
      keys.resultJson,
      untilAborted(outputs.resultJson(meta), signal),
      JSON_CONTENT_TYPE,
    );
    checkDeadline();
  };

  /**
   * A partitioned run, one partition at a time: each partition's outputs are spilled to temporary
   * files as it closes and its records released, so the worker holds one partition's records, not
   * the collection; the outputs are then uploaded from the files.
   */
  const produceSpilled = async (
    partitionBy: string,
    policy: Policy,
  ): Promise<{ stats: MatchStats; matchedAt: number }> => {
    const spilled = await SpilledOutputs.create(partitionBy);
    try {
      const sort = inputSort(partitionBy);
      const { stats } = await matchPaymentsByPartition(
        untilAborted(deps.store.find<Document>(ACCRUAL_COLLECTION, {}, { sort }), signal),
        untilAborted(deps.store.find<Document>(PAYMENT_COLLECTION, {}, { sort }), signal),
        { policy, partitionBy },
        spilled.add,
      );
      spilled.close();
      const matchedAt = performance.now();
      checkDeadline();
      await upload({
        matchesCsv: () => spilled.matchesCsvChunks(),
        unmatchedPaymentsCsv: () => spilled.unmatchedPaymentsCsvChunks(),
        resultJson: (meta) => spilled.resultJsonChunks(policy, meta, stats),
      });
      return { stats, matchedAt };
    } finally {
      await spilled.dispose();
    }
  };

  /** Reads, matches and uploads; every step and every chunk stops once `signal` is aborted. */
  const produceOutputs = async (): Promise<{ stats: MatchStats; matchedAt: number }> => {
    checkDeadline();
    phase = 'reading and matching inputs';
    if (run.partitionBy !== undefined) return produceSpilled(run.partitionBy, run.policy);
    const sort = inputSort(run.partitionBy);
    const outcome = await matchPayments(
      untilAborted(deps.store.find<Document>(ACCRUAL_COLLECTION, {}, { sort }), signal),
      untilAborted(deps.store.find<Document>(PAYMENT_COLLECTION, {}, { sort }), signal),
      { policy: run.policy },
    );
    const matchedAt = performance.now();
    checkDeadline();
    await upload({
      matchesCsv: () => matchesCsvChunks(outcome),
      unmatchedPaymentsCsv: () => unmatchedPaymentsCsvChunks(outcome),
      resultJson: (meta) => resultJsonChunks(outcome, meta),
    });
    return { stats: outcome.stats, matchedAt };
  };

  const work = produceOutputs();
  let produced: { stats: MatchStats; matchedAt: number };
  try {
    // The race matters when a step is stuck (a read or an S3 request that never answers): the
    // signal cannot interrupt an await, so without it the job would hang until Lambda kills it
    // and the run would stay `running`.
    produced = await unlessAborted(work, signal);
  } catch (error) {
    const cause = signal.aborted ? signal.reason : error;
    const reason = cause instanceof DeadlineError ? cause.message : describeFailure(cause);
    log.error('matching run failed', { runId, phase, reason, error: cause });
    // Give a step still in flight a moment to end, so that an upload finishing late cannot put an
    // object back after the clean-up below.
    if (signal.aborted) await settledWithin(work, Math.min(MAX_SETTLE_MS, marginMs / 4));
    // Success was never attempted, so no ledger write can link these outputs.
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

  const { stats, matchedAt } = produced;
  const succeeded: MatchingJobOutcome = { status: 'succeeded', runId, stats };
  try {
    await deps.ledger.markSucceeded(runId, stats, keys);
  } catch (error) {
    return settleUnrecordedSuccess({
      run,
      keys,
      error,
      succeeded,
      ledger: deps.ledger,
      bucket: deps.bucket,
      log,
    });
  }
  log.info('matching run succeeded', {
    runId,
    stats,
    readAndMatchMs: Math.round(matchedAt - started),
    writeMs: Math.round(performance.now() - matchedAt),
  });
  return succeeded;
}

/**
 * `markSucceeded` failed after all outputs were written. Its write may have landed (only the
 * answer was lost), so the run is read back before anything is deleted:
 * - succeeded: the write landed; the job succeeded.
 * - still `running` with our claim (same attempt): the write did not land. The run is marked
 *   failed first, so a late write can no longer make it succeeded, and only then are the outputs
 *   removed.
 * - claimed by another worker since (taken over as stale): its outputs and ledger item are left alone.
 * - unreadable: nothing is deleted and the error is thrown; the invocation's retry takes the run back.
 */
async function settleUnrecordedSuccess(args: {
  readonly run: MatchingRun;
  readonly keys: RunOutputKeys;
  readonly error: unknown;
  readonly succeeded: MatchingJobOutcome;
  readonly ledger: RunLedger;
  readonly bucket: OutputBucket;
  readonly log: JobLogger;
}): Promise<MatchingJobOutcome> {
  const { run, keys, error, succeeded, ledger, bucket, log } = args;
  const { runId } = run;
  const reason = describeFailure(error);
  let current: MatchingRun | undefined;
  try {
    current = await ledger.get(runId);
  } catch (readError) {
    log.error('matching run outputs are complete but the outcome could not be recorded', {
      runId,
      reason,
      error: readError,
    });
    throw error;
  }
  if (current?.status === 'succeeded') {
    log.info('matching run succeeded (recorded, though the answer was lost)', { runId, reason });
    return succeeded;
  }
  if (current?.status !== 'running' || current.attempts !== run.attempts) {
    log.warn('matching run was taken over while its success was being recorded', {
      runId,
      status: current?.status,
      reason,
    });
    return {
      status: 'skipped',
      runId,
      reason: `run is ${current?.status ?? 'gone'}; another attempt owns it`,
    };
  }
  log.error('matching run failed', { runId, phase: 'recording success', reason, error });
  try {
    await ledger.markFailed(runId, reason);
  } catch (failError) {
    // The late write may have landed after all, between the read and markFailed.
    if (failError instanceof ConflictError && (await ledger.get(runId))?.status === 'succeeded')
      return succeeded;
    throw failError;
  }
  await discardOutputs(bucket, keys, log, runId);
  return { status: 'failed', runId, reason, transient: isOutage(error) };
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
async function discardOutputs(bucket: OutputBucket, keys: RunOutputKeys, log: JobLogger, runId: string) {
  try {
    await bucket.remove([keys.resultJson, keys.matchesCsv, keys.unmatchedPaymentsCsv]);
  } catch (error) {
    log.warn('could not delete partial outputs of a failed run', { runId, error });
  }
}
