import { planMatchingRunHandler } from '../lib/runs/workers/plan-step-worker.js';

export const handler = planMatchingRunHandler();
