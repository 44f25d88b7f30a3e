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
export { mergeMatchingRun } from './merge.js';
export type * from './types.js';
