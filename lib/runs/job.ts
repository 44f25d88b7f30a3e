import type { Document } from 'mongodb';
import { isOutage } from '../aws/aws-errors.js';
import { ConflictError, NotFoundError } from '../errors.js';
import { logger as defaultLogger } from '../logger.js';
import {
  type MatchOutcome,
  type MatchStats,
  matchPayments,
  matchPaymentsByPartition,
  type ResultMeta,
} from '../matching/index.js';
import type { DocumentStore, SortSpec } from '../store/document-store.js';
import { Deadline, DeadlineError, untilAborted } from './deadline.js';
import type { JobLogger, MatchingJobOutcome } from './job-outcome.js';
import { describeFailure, type MatchingRun, type RunLedger } from './ledger.js';
import { discardOutputs, type OutputBucket, type OutputChunks } from './output-bucket.js';
import { type OutputSource, outcomeOutputs } from './output-source.js';
import { RUN_OUTPUTS, type RunOutputKeys, type RunOutputName, runOutputKeys } from './outputs.js';
import { type ProgressInput, ProgressReporter } from './progress.js';
import { SpilledOutputs } from './spill.js';
import { settleUnrecordedSuccess } from './unrecorded-success.js';

/** Collections the matcher reads (SPEC §3). */
export const ACCRUAL_COLLECTION = 'accrual';
export const PAYMENT_COLLECTION = 'payment';

/** Time kept in reserve before the Lambda limit: enough to delete partial outputs and record the failure. */
export const DEFAULT_SAFETY_MARGIN_MS = 15_000;

export interface MatchingJobDeps {
  readonly store: DocumentStore;
  readonly ledger: RunLedger;
  readonly bucket: OutputBucket;
  /** Clock for `generatedAt` (tests). */
  readonly now?: () => Date;
  /**
   * Milliseconds left before the invocation is killed (`context.getRemainingTimeInMillis`). Read
   * between steps and at least every DEADLINE_POLL_MS while a step is in progress.
   */
  readonly deadline?: () => number;
  /**
   * Who claims the run: the worker invocation's request id, which Lambda's retries of it reuse.
   * Such a retry may take back a run its crashed invocation left `running` (RunLedger.markRunning).
   */
  readonly owner?: string;
  /** Stop this long before the deadline (default {@link DEFAULT_SAFETY_MARGIN_MS}). */
  readonly safetyMarginMs?: number;
  /** Time between progress writes besides phase changes (default RUN_PROGRESS_INTERVAL_MS's). */
  readonly progressIntervalMs?: number;
  readonly logger?: JobLogger;
}

/** The sort every input stream must arrive in: `(partition, date, id)`, or `(date, id)` without a partition field. */
export function inputSort(partitionBy: string | undefined): SortSpec {
  return partitionBy === undefined ? { date: 1, id: 1 } : { [partitionBy]: 1, date: 1, id: 1 };
}

/** The run one invocation claimed, and what it works with. */
interface Job {
  readonly run: MatchingRun;
  readonly keys: RunOutputKeys;
  readonly deps: MatchingJobDeps;
  readonly log: JobLogger;
  /** `performance.now()` once the run was claimed. */
  readonly started: number;
  /** The run's `progress` in the ledger while it runs (lib/runs/progress.ts). */
  readonly progress: ProgressReporter;
}

/**
 * One matching run, end to end: claim it in the ledger (`running`), produce its outputs (stream
 * accruals and payments from the store in `(partition, date, id)` order and match), upload them
 * under `matching-runs/{runId}/` (`result.json` last, so its presence means the set is complete),
 * then record it `succeeded`. Meanwhile its `progress` (phase and counts) is refreshed in the
 * ledger at a bounded rate (lib/runs/progress.ts). With a partition field, each partition's
 * outputs are spilled to temporary files as it closes (its records are then released) and the
 * uploads stream those files, so memory is bounded by the largest partition.
 *
 * Any failure before the outputs are complete deletes whatever was written and records the run
 * `failed` with a one-line reason; a half-written run is never `succeeded`. Close to the deadline
 * the job stops at the next chunk and fails with `timed out …` (lib/runs/deadline.ts). A run that
 * another invocation already claimed (running or succeeded), or that does not exist, is `skipped`.
 * If recording success fails, lib/runs/unrecorded-success.ts finds out what the run became.
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
    if (!(error instanceof ConflictError || error instanceof NotFoundError)) throw error;
    log.info('matching run not started: not claimable', { runId, reason: error.message });
    return { status: 'skipped', runId, reason: error.message };
  }
  const progress = new ProgressReporter(deps.ledger, run, {
    intervalMs: deps.progressIntervalMs,
    logger: log,
  });
  const job: Job = {
    run,
    keys: runOutputKeys(runId, run.partitionBy),
    deps,
    log,
    started: performance.now(),
    progress,
  };
  const deadline = new Deadline(deps.deadline, deps.safetyMarginMs ?? DEFAULT_SAFETY_MARGIN_MS);
  const work = produceAndUpload(job, deadline).finally(() => progress.stop());
  let written: Written;
  try {
    written = await deadline.race(work);
  } catch (error) {
    return await recordFailure(job, deadline.causeOf(error), deadline, work);
  } finally {
    deadline.stop();
  }
  return recordSuccess(job, written);
}

/** What {@link produceAndUpload} leaves for the ledger: the stats, and when matching ended (for the log). */
interface Written {
  readonly stats: MatchStats;
  readonly matchedAt: number;
}

/** Produces the outputs, then uploads them; every read and every chunk stops once the deadline passes. */
async function produceAndUpload(job: Job, deadline: Deadline): Promise<Written> {
  deadline.enter('reading and matching inputs');
  const outputs = await produce(job, deadline.signal);
  try {
    const matchedAt = performance.now();
    deadline.enter('writing outputs');
    await job.progress.enter('writing');
    await upload(job, outputs, deadline);
    return { stats: outputs.stats, matchedAt };
  } finally {
    await outputs.dispose();
  }
}

/** What counts the records a job reads: the run's ProgressReporter, or a shard's own counts (lib/runs/shards/). */
export interface ReadCounter {
  /** Re-yields `input`, counting each record into `field`. */
  counted<T>(field: ProgressInput, input: AsyncIterable<T>): AsyncIterable<T>;
  /** Counts a partition the matcher handed on. */
  partitionDone(part: MatchOutcome): void;
}

/**
 * Reads and matches the run's inputs, counting what is read into the run's progress. A
 * partitioned run goes one partition at a time: each partition's outputs are spilled to
 * temporary files as it closes and its records released, so the worker holds one partition's
 * records, not the collection.
 */
async function produce({ run, deps, progress }: Job, signal: AbortSignal): Promise<OutputSource> {
  const { policy, partitionBy, limitationPeriod } = run;
  if (partitionBy !== undefined) {
    return producePartitioned({ ...run, partitionBy }, deps.store, progress, signal);
  }
  const sort = inputSort(partitionBy);
  const read = (collection: string, counter: ProgressInput) =>
    progress.counted(counter, untilAborted(deps.store.find<Document>(collection, {}, { sort }), signal));
  return outcomeOutputs(
    await matchPayments(read(ACCRUAL_COLLECTION, 'accrualsRead'), read(PAYMENT_COLLECTION, 'paymentsRead'), {
      policy,
      limitationPeriod,
    }),
  );
}

/**
 * The partitioned job's reading and matching, over the records `filter` selects (all of them, or
 * one shard's key range): both collections streamed in `(partition, date, id)` order, matched
 * partition by partition, each partition's outputs spilled as it closes. The caller disposes of
 * the outputs.
 */
export async function producePartitioned(
  run: Pick<MatchingRun, 'policy' | 'limitationPeriod'> & { readonly partitionBy: string },
  store: DocumentStore,
  counter: ReadCounter,
  signal: AbortSignal,
  filter: Readonly<Document> = {},
): Promise<SpilledOutputs> {
  const { policy, partitionBy, limitationPeriod } = run;
  const sort = inputSort(partitionBy);
  const read = (collection: string, field: ProgressInput) =>
    counter.counted(field, untilAborted(store.find<Document>(collection, filter, { sort }), signal));
  const spilled = await SpilledOutputs.create(policy, partitionBy, limitationPeriod);
  try {
    const { stats } = await matchPaymentsByPartition(
      read(ACCRUAL_COLLECTION, 'accrualsRead'),
      read(PAYMENT_COLLECTION, 'paymentsRead'),
      { policy, limitationPeriod, partitionBy },
      (part) => {
        spilled.add(part);
        counter.partitionDone(part);
      },
    );
    spilled.close(stats);
    return spilled;
  } catch (error) {
    await spilled.dispose();
    throw error;
  }
}

/** Uploads every output the run writes in RUN_OUTPUTS order (`result.json` last); `generatedAt` is when writing starts. */
async function upload(job: Job, outputs: OutputSource, deadline: Deadline): Promise<void> {
  const meta = { runId: job.run.runId, generatedAt: (job.deps.now?.() ?? new Date()).toISOString() };
  await uploadOutputs(job.deps.bucket, job.keys, outputs, meta, deadline);
}

/**
 * Uploads the outputs that have a key in `keys`, in RUN_OUTPUTS order, each stopping once the
 * deadline passes. `render` may supply an output's chunks instead of `outputs` (a shard counts
 * the bytes it writes this way).
 */
export async function uploadOutputs(
  bucket: OutputBucket,
  keys: Partial<Record<RunOutputName, string>>,
  outputs: OutputSource,
  meta: ResultMeta,
  deadline: Deadline,
  render?: (name: RunOutputName, chunks: OutputChunks) => OutputChunks,
): Promise<void> {
  for (const { name, contentType } of RUN_OUTPUTS) {
    const key = keys[name];
    // Not an output of this run (one only partitioned runs write).
    if (key === undefined) continue;
    const chunks = outputs[name]?.(meta);
    if (chunks === undefined) throw new Error(`the outputs of the run have no ${name}`);
    await bucket.upload(
      key,
      untilAborted(render ? render(name, chunks) : chunks, deadline.signal),
      contentType,
    );
    deadline.check();
  }
}

/** Deletes what was written and records the run failed: success was never attempted, so nothing links these outputs. */
async function recordFailure(
  job: Job,
  cause: unknown,
  deadline: Deadline,
  work: Promise<unknown>,
): Promise<MatchingJobOutcome> {
  const { runId } = job.run;
  const reason = cause instanceof DeadlineError ? cause.message : describeFailure(cause);
  job.log.error('matching run failed', { runId, phase: deadline.phase, reason, error: cause });
  await deadline.settle(work);
  await discardOutputs(job.deps.bucket, job.keys, job.log, runId);
  await job.deps.ledger.markFailed(runId, reason);
  return { status: 'failed', runId, reason, transient: !(cause instanceof DeadlineError) && isOutage(cause) };
}

/** Records the run succeeded with the keys of its complete outputs. */
async function recordSuccess(job: Job, { stats, matchedAt }: Written): Promise<MatchingJobOutcome> {
  const { runId } = job.run;
  const succeeded: MatchingJobOutcome = { status: 'succeeded', runId, stats };
  try {
    await job.deps.ledger.markSucceeded(runId, stats, job.keys);
  } catch (error) {
    const { run, keys, deps, log } = job;
    return settleUnrecordedSuccess({
      run,
      keys,
      ledger: deps.ledger,
      bucket: deps.bucket,
      log,
      error,
      succeeded,
    });
  }
  job.log.info('matching run succeeded', {
    runId,
    stats,
    readAndMatchMs: Math.round(matchedAt - job.started),
    writeMs: Math.round(performance.now() - matchedAt),
  });
  return succeeded;
}
