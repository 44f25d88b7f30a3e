import { RunLedger } from '../runs/ledger.js';
import { PartitionLookups } from '../runs/partition-lookup.js';
import { ResultsBucket } from '../runs/results-bucket.js';
import { httpHandler } from './http-handler.js';
import { getMatchingRunPartitionRequest } from './partition-schemas.js';

let lookups: PartitionLookups | undefined;

/** The container's PartitionLookups, built on first use from the configuration. */
export function partitionLookups(): PartitionLookups {
  lookups ??= new PartitionLookups({ ledger: new RunLedger(), reader: new ResultsBucket() });
  return lookups;
}

/**
 * `GET /matching-runs/{runId}/partitions/{value}`: one page of one partition of a succeeded,
 * partitioned run, read from its partition index with a few bounded ranged reads.
 */
export const getMatchingRunPartitionHandler = httpHandler(
  getMatchingRunPartitionRequest,
  async ({ path, query }) => ({
    status: 200,
    body: await partitionLookups().lookUp(path.runId, {
      value: path.value,
      page: query.page,
      ...(query.type === undefined ? {} : { type: query.type }),
    }),
  }),
);
