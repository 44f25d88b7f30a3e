import { paymentsImportedWorkerHandler } from '../lib/runs/workers/payments-imported-worker.js';

export const handler = paymentsImportedWorkerHandler();
