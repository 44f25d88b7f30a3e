import { failMatchingRunHandler } from '../lib/runs/workers/fail-step-worker.js';

export const handler = failMatchingRunHandler();
