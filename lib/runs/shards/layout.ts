import * as z from 'zod';
import { RUN_OUTPUTS_PREFIX } from '../outputs.js';
import { assertRunId } from '../run-id.js';
import { runStatsSchema } from '../run-record.js';

/**
 * Where a sharded run keeps its plan and its shards' outputs in the results bucket, and the shape
 * of `plan.json` and `shard.json` as the merge reads them (notes/shards-contract.md, "S3 layout").
 */

/** `matching-runs/{runId}/plan.json`. */
export function planKey(runId: string): string {
  assertRunId(runId);
  return `${RUN_OUTPUTS_PREFIX}${runId}/plan.json`;
}

/** `matching-runs/{runId}/shards/{NNNN}/`: shard numbers are zero-padded to 4 digits. */
export function shardPrefix(runId: string, shard: number): string {
  assertRunId(runId);
  if (!Number.isSafeInteger(shard) || shard < 0) throw new RangeError(`invalid shard number ${shard}`);
  return `${RUN_OUTPUTS_PREFIX}${runId}/shards/${String(shard).padStart(4, '0')}/`;
}

/** The shard's manifest, written last: its presence means the shard is complete. */
export function shardManifestKey(runId: string, shard: number): string {
  return `${shardPrefix(runId, shard)}shard.json`;
}

/** `plan.json`: the run's key ranges (EJSON values: `from` inclusive, `to` exclusive). */
export const planSchema = z.looseObject({
  runId: z.string(),
  partitionBy: z.string(),
  estimatedRecords: z.number().optional(),
  shards: z
    .array(
      z.looseObject({
        shard: z.number().int().nonnegative(),
        from: z.unknown().optional(),
        to: z.unknown().optional(),
      }),
    )
    .min(1),
});
export type ShardPlan = z.infer<typeof planSchema>;

/** A half-open byte range `[start, end)` of an object. */
const byteRange = z
  .tuple([z.number().int().nonnegative(), z.number().int().nonnegative()])
  .refine(([start, end]) => start <= end, 'a byte range ends before it starts');

const output = z.looseObject({ key: z.string(), bytes: z.number().int().nonnegative() });
const csvOutput = output.extend({ headerBytes: z.number().int().nonnegative() });

/** `shard.json`: what one shard wrote, and where the merge finds each part of it. */
export const shardManifestSchema = z.looseObject({
  runId: z.string(),
  shard: z.number().int().nonnegative(),
  stats: runStatsSchema,
  counts: z
    .looseObject({ accrualsRead: z.number(), paymentsRead: z.number(), partitionsDone: z.number() })
    .optional(),
  outputs: z.looseObject({
    matchesCsv: csvOutput,
    unmatchedPaymentsCsv: csvOutput,
    unpaidAccrualsCsv: csvOutput,
    resultXlsx: output,
    partitionsJsonl: output,
    partitionIndex: output,
    resultJson: output.extend({
      elements: z.object({
        matches: byteRange,
        unmatchedPayments: byteRange,
        unpaidAccruals: byteRange,
        rejectedAccruals: byteRange,
        rejectedPayments: byteRange,
      }),
    }),
  }),
});
export type ShardManifest = z.infer<typeof shardManifestSchema>;
