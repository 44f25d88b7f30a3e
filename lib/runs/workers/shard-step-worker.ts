import { runMatchingShard } from '../shards/shard-job.js';
import { type ShardWorkerDeps, stepHandler } from './shard-workers.js';

/** The shard step's function (functions/matching-shard.ts). */
export const matchingShardHandler = (deps?: ShardWorkerDeps) => stepHandler('shard', runMatchingShard, deps);
