import { NotFoundError } from '../../errors.js';
import { logger as defaultLogger } from '../../logger.js';
import { leftoversCsvHeader, type MatchOutcome, matchesCsvHeader } from '../../matching/index.js';
import { Deadline, DeadlineError } from '../deadline.js';
import { DEFAULT_SAFETY_MARGIN_MS, producePartitioned, type ReadCounter, uploadOutputs } from '../job.js';
import type { MatchingRun } from '../ledger.js';
import type { OutputChunk, OutputChunks } from '../output-bucket.js';
import type { RunOutputName } from '../outputs.js';
import { isPartition, type ProgressInput } from '../progress.js';
import { isRunId } from '../run-id.js';
import type { ResultJsonLayout } from '../spill.js';
import { tapped } from '../tapped.js';
import { readPlan, type ShardManifest, shardManifestKey, shardOutputKeys } from './layout.js';
import { type ShardPlan, shardFilter } from './plan.js';
import { stepError } from './transient.js';
import type { ShardItem, ShardResult, ShardStepDeps } from './types.js';

const JSON_TEXT = 'application/json; charset=utf-8';

/** A shard counts what it reads and matches for itself; the run's progress gets the sums once, at the end. */
class ShardCounts implements ReadCounter {
  accrualsRead = 0;
  paymentsRead = 0;
  partitionsDone = 0;

  counted<T>(field: ProgressInput, input: AsyncIterable<T>): AsyncIterable<T> {
    return tapped(input, (step) => {
      if (!step.done) this[field]++;
      return undefined;
    });
  }

  partitionDone(part: MatchOutcome): void {
    if (isPartition(part)) this.partitionsDone++;
  }
}

function byteLength(chunk: OutputChunk): number {
  return typeof chunk === 'string' ? Buffer.byteLength(chunk, 'utf8') : chunk.byteLength;
}

/**
 * One shard of a sharded run: the partitioned job over the shard's key range (lib/runs/job.ts
 * `producePartitioned` with the shard's filter, sorted by `(partition, date, id)`), its outputs
 * uploaded under `shards/{NNNN}/` exactly as an unsharded partitioned run of those partitions
 * writes them, then `shard.json` last (byte counts, CSV header lengths, result.json's element
 * ranges, counted while uploading), then its counts and `shardsDone + 1` added to the run's
 * progress, once (RunLedger.recordShardDone).
 *
 * Runs only a shard of a `running` run; a retry overwrites the same keys. Close to the deadline it
 * stops and throws a DeadlineError. On failure it deletes what it wrote and throws: a
 * TransientError for an outage (the state machine retries it), else an error with a one-line
 * message.
 */
export async function runMatchingShard(item: ShardItem, deps: ShardStepDeps): Promise<ShardResult> {
  const log = deps.logger ?? defaultLogger;
  const { runId, shard } = item;
  if (!isRunId(runId) || !Number.isInteger(shard) || shard < 0) {
    throw new Error('invalid shard item: runId must be a run id and shard a non-negative integer');
  }
  const what = `shard ${shard} of matching run ${runId}`;
  let run: MatchingRun | undefined;
  let plan: ShardPlan;
  try {
    run = await deps.ledger.get(runId);
    if (run === undefined) throw new NotFoundError(`matching run ${runId} does not exist`);
    if (run.status !== 'running') throw new Error(`matching run ${runId} is ${run.status}, not running`);
    plan = await readPlan(deps, runId);
    if (plan.shards[shard] === undefined) throw new Error(`the plan has ${plan.shards.length} shard(s)`);
  } catch (error) {
    throw stepError(error, `${what} not run`);
  }
  const started = performance.now();
  const counts = new ShardCounts();
  const keys = shardOutputKeys(runId, shard);
  const manifestKey = shardManifestKey(runId, shard);
  const deadline = new Deadline(deps.deadline, deps.safetyMarginMs ?? DEFAULT_SAFETY_MARGIN_MS);
  const partitioned = { ...run, partitionBy: plan.partitionBy };
  const work = (async (): Promise<ShardManifest> => {
    deadline.enter('reading and matching inputs');
    const outputs = await producePartitioned(
      partitioned,
      deps.store,
      counts,
      deadline.signal,
      shardFilter(plan, shard),
    );
    try {
      deadline.enter('writing outputs');
      const bytes: Partial<Record<RunOutputName, number>> = {};
      const meta = { runId, generatedAt: (deps.now?.() ?? new Date()).toISOString() };
      const count = (name: RunOutputName, chunks: OutputChunks): OutputChunks => {
        bytes[name] = 0;
        return tapped(chunks, (step) => {
          if (!step.done) bytes[name] = (bytes[name] ?? 0) + byteLength(step.value);
          return undefined;
        });
      };
      await uploadOutputs(deps.bucket, keys, outputs, meta, deadline, count);
      const elements = outputs.resultJsonLayout as ResultJsonLayout;
      const output = (name: keyof typeof keys) => ({ key: keys[name], bytes: bytes[name] ?? 0 });
      const matchesHeader = Buffer.byteLength(matchesCsvHeader(plan.partitionBy), 'utf8');
      const leftoversHeader = Buffer.byteLength(leftoversCsvHeader(plan.partitionBy), 'utf8');
      const manifest: ShardManifest = {
        runId,
        shard,
        stats: outputs.stats,
        counts: {
          accrualsRead: counts.accrualsRead,
          paymentsRead: counts.paymentsRead,
          partitionsDone: counts.partitionsDone,
        },
        outputs: {
          matchesCsv: { ...output('matchesCsv'), headerBytes: matchesHeader },
          unmatchedPaymentsCsv: { ...output('unmatchedPaymentsCsv'), headerBytes: leftoversHeader },
          unpaidAccrualsCsv: { ...output('unpaidAccrualsCsv'), headerBytes: leftoversHeader },
          resultXlsx: output('resultXlsx'),
          partitionsJsonl: output('partitionsJsonl'),
          partitionIndex: output('partitionIndex'),
          resultJson: { ...output('resultJson'), elements },
        },
      };
      await deps.bucket.upload(manifestKey, [JSON.stringify(manifest)], JSON_TEXT);
      deadline.check();
      return manifest;
    } finally {
      await outputs.dispose();
    }
  })();
  let manifest: ShardManifest;
  try {
    manifest = await deadline.race(work);
  } catch (error) {
    const cause = deadline.causeOf(error);
    log.error('matching shard failed', { runId, shard, phase: deadline.phase, error: cause });
    await deadline.settle(work);
    try {
      await deps.bucket.remove([...Object.values(keys), manifestKey]);
    } catch (removal) {
      log.warn('could not delete the partial outputs of a failed shard', { runId, shard, error: removal });
    }
    throw cause instanceof DeadlineError ? cause : stepError(cause, `${what} failed`);
  } finally {
    deadline.stop();
  }
  const matchedMs = Math.round(performance.now() - started);
  let counted: 'counted' | 'already counted';
  try {
    counted = await deps.ledger.recordShardDone(runId, shard, manifest.counts);
  } catch (error) {
    throw stepError(error, `${what} finished but could not be counted`);
  }
  log.info('matching shard done', { runId, shard, counted, stats: manifest.stats, ms: matchedMs });
  return { runId, shard, stats: manifest.stats };
}
