import { planMatchingRun } from '../shards/plan-step.js';
import { type ShardWorkerDeps, stepHandler } from './shard-workers.js';

/** The plan step's function (functions/plan-matching-run.ts). */
export const planMatchingRunHandler = (deps?: ShardWorkerDeps) => stepHandler('plan', planMatchingRun, deps);
