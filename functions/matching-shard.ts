import { matchingShardHandler } from '../lib/runs/workers/shard-workers.js';

export const handler = matchingShardHandler();
