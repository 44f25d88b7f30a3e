import { mergeMatchingRunHandler } from '../lib/runs/workers/shard-workers.js';

export const handler = mergeMatchingRunHandler();
