import { paymentsImportedWorkerHandler } from '../lib/payments-imported-worker.js';

export const handler = paymentsImportedWorkerHandler();
