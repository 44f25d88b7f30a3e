import { failShardedRun } from '../shards/fail.js';
import { type ShardWorkerDeps, stepHandler } from './shard-workers.js';

/** The fail step's function (functions/fail-matching-run.ts). */
export const failMatchingRunHandler = (deps?: ShardWorkerDeps) => stepHandler('fail', failShardedRun, deps);
