import * as z from 'zod';
import { MAX_PARTITION_VALUE_LENGTH, PARTITION_KINDS } from '../runs/partition-index.js';
import { runIdSchema } from '../runs/run-id.js';
import { objectIssueMessage } from './schemas.js';

/** Pages of one partition: plenty for any account (each page holds up to 256 KiB of records). */
export const MAX_PARTITION_PAGE = 100_000;

const PAGE_MESSAGE = `must be an integer from 1 to ${MAX_PARTITION_PAGE}`;

/**
 * A partition value as a path segment gives it, already URL-decoded by API Gateway (never
 * decoded again here: a `%` in a value stays a `%`). Any text of 1 to
 * MAX_PARTITION_VALUE_LENGTH characters without control characters; which kind of value it names
 * (number, string, ObjectId) is decided against the run's index (lib/runs/partition-lookup.ts).
 * It is only ever compared with the index's keys, never put into a query or an S3 key.
 */
export const partitionValueSchema = z
  .string({ error: 'must be a string' })
  .min(1, 'must not be empty')
  .max(MAX_PARTITION_VALUE_LENGTH, `must be at most ${MAX_PARTITION_VALUE_LENGTH} characters`)
  .refine((value) => !/\p{Cc}/u.test(value), 'must not contain control characters');

/** `GET /matching-runs/{runId}/partitions/{value}?type=&page=`; unknown query parameters are refused. */
export const getMatchingRunPartitionRequest = {
  path: z.object({ runId: runIdSchema, value: partitionValueSchema }),
  query: z.strictObject(
    {
      type: z.enum(PARTITION_KINDS, { error: `must be one of ${PARTITION_KINDS.join(', ')}` }).optional(),
      page: z
        .string()
        .regex(/^[0-9]{1,6}$/, PAGE_MESSAGE)
        .transform(Number)
        .pipe(z.number().int().min(1, PAGE_MESSAGE).max(MAX_PARTITION_PAGE, PAGE_MESSAGE))
        .default(1),
    },
    { error: objectIssueMessage },
  ),
};
