import { matchingWorkerHandler } from '../lib/runs/workers/matching-worker.js';

export const handler = matchingWorkerHandler();
