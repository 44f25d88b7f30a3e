import { failMatchingRunHandler } from '../lib/runs/workers/shard-workers.js';

export const handler = failMatchingRunHandler();
