/**
 * Sharded matching runs (issue 12): a partitioned run split over many Lambdas by AWS Step
 * Functions. The state machine (serverless.yml, `stepFunctions`) calls these four steps through
 * the thin handlers in lib/runs/workers/shard-workers.ts:
 *
 *   plan → Map over the shards (each: match one shard) → merge;  any failure → fail.
 *
 * Contract between the steps and the state machine: notes/shards-contract.md.
 */

export { failShardedRun } from './fail.js';
export {
  MAX_PLAN_BYTES,
  planKey,
  readPlan,
  type ShardManifest,
  shardItemsKey,
  shardManifestKey,
  shardManifestSchema,
  shardOutputKeys,
  shardPrefix,
} from './layout.js';
export { mergeMatchingRun } from './merge.js';
export {
  DEFAULT_SHARD_OPTIONS,
  parsePlan,
  type ShardOptions,
  type ShardPlan,
  shardFilter,
  shardOf,
} from './plan.js';
export { planMatchingRun } from './plan-step.js';
export { runMatchingShard } from './shard-job.js';
export { TransientError } from './transient.js';
export type {
  FailInput,
  MatchingJobOutcome,
  PlanResult,
  ShardItem,
  ShardResult,
  ShardStepDeps,
  StepError,
} from './types.js';
