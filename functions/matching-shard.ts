import { matchingShardHandler } from '../lib/runs/workers/shard-step-worker.js';

export const handler = matchingShardHandler();
