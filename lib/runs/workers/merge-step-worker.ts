import { mergeMatchingRun } from '../shards/merge.js';
import { type ShardWorkerDeps, stepHandler } from './shard-workers.js';

/** The merge step's function (functions/merge-matching-run.ts). */
export const mergeMatchingRunHandler = (deps?: ShardWorkerDeps) =>
  stepHandler('merge', mergeMatchingRun, deps);
