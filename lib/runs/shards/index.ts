/**
 * Sharded matching runs (issue 12): a partitioned run split over many Lambdas by AWS Step
 * Functions. The state machine (serverless.yml, `stepFunctions`) calls these four steps through
 * the thin handlers in lib/runs/workers/shard-workers.ts:
 *
 *   plan → Map over the shards (each: match one shard) → merge;  any failure → fail.
 *
 * Contract between the steps and the state machine: notes/shards-contract.md.
 */
import type { MatchStats } from '../../matching/index.js';
import type { MatchingJobDeps } from '../job.js';
import type { MatchingJobOutcome } from '../job-outcome.js';
import type { ResultsBucket } from '../results-bucket.js';

/** One item of the Map state: which shard of which run. */
export interface ShardItem {
  readonly runId: string;
  /** 0-based index into the plan's shards. */
  readonly shard: number;
}

/** What the plan step returns to the state machine (the Map's input). */
export interface PlanResult {
  readonly runId: string;
  /** False when the run could not be claimed (already running elsewhere, done, or unknown): the execution ends. */
  readonly claimed: boolean;
  /** The Map's items, inline (the local adaptation and an inline Map read these). */
  readonly shards: readonly ShardItem[];
  /** Bucket and key of the same items as a JSON array (the Distributed Map's ItemReader reads it). */
  readonly itemsBucket: string;
  readonly itemsKey: string;
}

/** What one shard step returns (the Map discards it: the merge reads each shard's manifest from S3). */
export interface ShardResult {
  readonly runId: string;
  readonly shard: number;
  readonly stats: MatchStats;
}

/** The error a step received from Step Functions' Catch (`$.error`: `{ Error, Cause }`). */
export interface StepError {
  readonly Error?: string;
  readonly Cause?: string;
}

/** What the fail step is given: the run, the shard that failed (when a shard did), the caught error. */
export interface FailInput {
  readonly runId: string;
  readonly shard?: number;
  readonly error?: StepError;
}

export type { MatchingJobOutcome };

/** Sharding settings from the configuration (SHARD_AUTO_THRESHOLD_RECORDS, SHARD_RECORDS, MAX_SHARDS). */
export interface ShardOptions {
  readonly autoThresholdRecords: number;
  readonly recordsPerShard: number;
  readonly maxShards: number;
}

/** What every step is given: the matching job's dependencies, with the results bucket itself (ranged reads, part copies). */
export interface ShardStepDeps extends MatchingJobDeps {
  readonly bucket: ResultsBucket;
  /** For the plan (lib/runs/workers/shard-workers.ts always passes it). */
  readonly shardOptions?: ShardOptions;
}

// The four steps. Their implementations live in the plan/shard (shard-data) and merge/fail
// (shard-merge) branches; this branch (the orchestration) only declares them, and the lead
// replaces these bodies when merging.
const NOT_IMPLEMENTED = 'not implemented in this branch';

/** Claims the run, splits its partition key space into shards, writes plan.json and shard-items.json. */
export async function planMatchingRun(_runId: string, _deps: ShardStepDeps): Promise<PlanResult> {
  throw new Error(NOT_IMPLEMENTED);
}

/** Matches one shard's key range and writes its outputs and shard.json under shards/{NNNN}/. */
export async function runMatchingShard(_item: ShardItem, _deps: ShardStepDeps): Promise<ShardResult> {
  throw new Error(NOT_IMPLEMENTED);
}

/** Assembles the run's outputs from the shards' in S3, sums the stats, records the run succeeded. */
export async function mergeMatchingRun(_runId: string, _deps: ShardStepDeps): Promise<MatchingJobOutcome> {
  throw new Error(NOT_IMPLEMENTED);
}

/** Records the run failed (naming the shard when one failed) and removes its partial outputs. */
export async function failShardedRun(_input: FailInput, _deps: ShardStepDeps): Promise<MatchingJobOutcome> {
  throw new Error(NOT_IMPLEMENTED);
}
