import { RunLedger } from '../runs/ledger.js';
import { listRunViews } from '../runs/service.js';
import { httpHandler } from './http-handler.js';
import { listMatchingRunsRequest } from './schemas.js';

/**
 * `GET /matching-runs`, on its own so the function loads only the run ledger (DynamoDB): no S3
 * client for presigning, no Lambda client for dispatching (lib/http/matching-run-routes.ts).
 */

let ledger: RunLedger | undefined;

/** `GET /matching-runs?limit=&after=&status=&trigger=`: runs newest first, one keyset page (SPEC §9). */
export const listMatchingRunsHandler = httpHandler(listMatchingRunsRequest, async ({ query }) => {
  ledger ??= new RunLedger();
  return { status: 200, body: await listRunViews(ledger, query) };
});
