/**
 * The types the steps of a sharded run share with the state machine (notes/shards-contract.md).
 * Kept apart from index.ts, which re-exports them with the steps, so a step can import them
 * without a cycle through index.ts.
 */
import type { MatchStats } from '../../matching/index.js';
import type { MatchingJobDeps } from '../job.js';
import type { MatchingJobOutcome } from '../job-outcome.js';
import type { ResultsBucket } from '../results-bucket.js';
import type { ShardOptions } from './plan.js';

/**
 * What every step gets: the matching job's dependencies (store, ledger, now, deadline, owner,
 * logger…) with the results bucket itself (ranged reads, part copies), and for the plan how
 * `shards: 'auto'` decides (default DEFAULT_SHARD_OPTIONS, lib/runs/shards/plan.ts).
 */
export interface ShardStepDeps extends MatchingJobDeps {
  readonly bucket: ResultsBucket;
  readonly shardOptions?: ShardOptions;
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
