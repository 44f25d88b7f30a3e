/** The types the steps of a sharded run share (re-exported by ./index.ts, which the steps must not import). */
import type { MatchStats } from '../../matching/index.js';
import type { MatchingJobDeps } from '../job.js';
import type { MatchingJobOutcome } from '../job-outcome.js';
import type { ResultsBucket } from '../results-bucket.js';

/**
 * What every step is given: the matching job's dependencies, with the results bucket itself (the
 * steps read plans and manifests, ranges of shard outputs, and copy parts), plus the plan's tuning.
 */
export interface ShardStepDeps extends Omit<MatchingJobDeps, 'bucket'> {
  readonly bucket: ResultsBucket;
  /** From config (SHARD_AUTO_THRESHOLD_RECORDS, SHARD_RECORDS, MAX_SHARDS); the plan step needs it. */
  readonly shardOptions?: {
    readonly autoThresholdRecords: number;
    readonly recordsPerShard: number;
    readonly maxShards: number;
  };
}

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
