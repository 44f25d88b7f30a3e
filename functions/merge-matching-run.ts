import { mergeMatchingRunHandler } from '../lib/runs/workers/merge-step-worker.js';

export const handler = mergeMatchingRunHandler();
