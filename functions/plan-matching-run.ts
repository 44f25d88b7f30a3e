import { planMatchingRunHandler } from '../lib/runs/workers/shard-workers.js';

export const handler = planMatchingRunHandler();
