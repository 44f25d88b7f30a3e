import { ConflictError, NotFoundError } from '../../errors.js';
import { logger as defaultLogger } from '../../logger.js';
import { sampleField, sampleSizeFor } from '../../store/sample-field.js';
import { ACCRUAL_COLLECTION, PAYMENT_COLLECTION } from '../job.js';
import type { MatchingRun } from '../ledger.js';
import { isRunId } from '../run-id.js';
import { planKey, shardItemsKey } from './layout.js';
import {
  type CollectionSample,
  DEFAULT_SHARD_OPTIONS,
  planBoundaries,
  planJson,
  type ShardPlan,
  shardCount,
  shardRanges,
} from './plan.js';
import { stepError } from './transient.js';
import type { PlanResult, ShardItem, ShardStepDeps } from './types.js';

const JSON_TEXT = 'application/json; charset=utf-8';

/** Sampled partition values wanted per shard asked for, per collection: quantiles to within about 10 % of a shard. */
export const SAMPLE_PER_SHARD = 100;
/** Fewest and most sampled values wanted per collection. */
export const MIN_SAMPLE = 1000;
export const MAX_SAMPLE = 100_000;

const PLANNING = { phase: 'planning', accrualsRead: 0, paymentsRead: 0, partitionsDone: 0 } as const;

/**
 * The plan step of a sharded run: claims the run (`running`, progress `planning`) as the matching
 * job does, estimates both collections' sizes (`estimatedDocumentCount`, no scan), decides the
 * shard count (`shards` as asked, or `auto`), samples the partition field of both collections
 * (`$sample`, never a scan of a large collection), cuts the key space at weighted quantiles
 * (lib/runs/shards/plan.ts), writes `plan.json` and `shard-items.json`, and moves the progress to
 * `reading` with `shardsTotal` and `shardsDone: 0`.
 *
 * A run that cannot be claimed (running elsewhere, done, unknown) gives `claimed: false`: the
 * execution ends. Any other failure throws (a TransientError for an outage) for the state
 * machine's Catch; the run stays `running` until the fail step records it.
 */
export async function planMatchingRun(runId: string, deps: ShardStepDeps): Promise<PlanResult> {
  const log = deps.logger ?? defaultLogger;
  const unclaimed: PlanResult = {
    runId,
    claimed: false,
    shards: [],
    itemsBucket: deps.bucket.bucket,
    itemsKey: isRunId(runId) ? shardItemsKey(runId) : '',
  };
  let run: MatchingRun;
  try {
    run = await deps.ledger.markRunning(runId, deps.owner, { progress: PLANNING });
  } catch (error) {
    if (error instanceof ConflictError || error instanceof NotFoundError) {
      log.info('sharded matching run not started: not claimable', { runId, reason: error.message });
      return unclaimed;
    }
    throw stepError(error, `matching run ${runId} could not be claimed`);
  }
  const started = performance.now();
  let plan: ShardPlan;
  let sampled: number;
  try {
    ({ plan, sampled } = await makePlan(run, deps));
    await deps.bucket.upload(planKey(runId), [planJson(plan)], JSON_TEXT);
  } catch (error) {
    throw stepError(error, `planning matching run ${runId} failed`);
  }
  const items: ShardItem[] = plan.shards.map(({ shard }) => ({ runId, shard }));
  try {
    await deps.bucket.upload(shardItemsKey(runId), [JSON.stringify(items)], JSON_TEXT);
    const held = await deps.ledger.recordProgress(run, {
      phase: 'reading',
      accrualsRead: 0,
      paymentsRead: 0,
      partitionsDone: 0,
      shardsTotal: items.length,
      shardsDone: 0,
    });
    if (!held) {
      log.info('sharded matching run not started: its claim was taken over while planning', { runId });
      return unclaimed;
    }
  } catch (error) {
    throw stepError(error, `planning matching run ${runId} failed`);
  }
  log.info('sharded matching run planned', {
    runId,
    asked: run.shards ?? 'auto',
    shards: items.length,
    estimatedRecords: plan.estimatedRecords,
    sampled,
    planMs: Math.round(performance.now() - started),
  });
  return {
    runId,
    claimed: true,
    shards: items,
    itemsBucket: deps.bucket.bucket,
    itemsKey: shardItemsKey(runId),
  };
}

/** Estimates, samples and cuts; how many values were sampled, for the log. */
async function makePlan(
  run: MatchingRun,
  deps: ShardStepDeps,
): Promise<{ plan: ShardPlan; sampled: number }> {
  const { runId, partitionBy } = run;
  if (partitionBy === undefined) throw new Error('a sharded run needs a partition field (partitionBy)');
  const collections = [ACCRUAL_COLLECTION, PAYMENT_COLLECTION];
  const counts = await Promise.all(collections.map((collection) => deps.store.estimatedCount(collection)));
  const estimatedRecords = counts.reduce((sum, count) => sum + count, 0);
  const wanted = shardCount(
    run.shards ?? 'auto',
    estimatedRecords,
    deps.shardOptions ?? DEFAULT_SHARD_OPTIONS,
  );
  const samples: CollectionSample[] =
    wanted <= 1
      ? []
      : await Promise.all(
          collections.map(async (collection, index) => {
            const count = counts[index] ?? 0;
            const size = sampleSizeFor(
              count,
              Math.min(MAX_SAMPLE, Math.max(MIN_SAMPLE, wanted * SAMPLE_PER_SHARD)),
            );
            return {
              values: await sampleField(deps.store, collection, partitionBy, size),
              estimatedCount: count,
            };
          }),
        );
  const plan = { runId, partitionBy, estimatedRecords, shards: shardRanges(planBoundaries(samples, wanted)) };
  return { plan, sampled: samples.reduce((sum, sample) => sum + sample.values.length, 0) };
}
