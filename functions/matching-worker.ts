import { matchingWorkerHandler } from '../lib/matching-worker.js';

export const handler = matchingWorkerHandler();
