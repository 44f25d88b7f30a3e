import * as z from 'zod';
import { NotFoundError } from '../../errors.js';
import {
  isShardedOnly,
  RUN_OUTPUT_NAMES,
  RUN_OUTPUTS,
  RUN_OUTPUTS_PREFIX,
  type RunOutputKeys,
  type RunOutputName,
  type ShardedOnlyOutputName,
} from '../outputs.js';
import type { ResultsBucket } from '../results-bucket.js';
import { assertRunId } from '../run-id.js';
import { matchStatsSchema } from '../run-record.js';
import { parsePlan, type ShardPlan } from './plan.js';

/**
 * Where a sharded run keeps its plan and its shards' outputs in the results bucket
 * (docs/decisions.md, "The S3 layout of a sharded run"), all under `matching-runs/{runId}/`: the
 * plan, the Map's items, and per shard `shards/{NNNN}/` every output a partitioned run writes plus
 * `shard.json`; and the shapes of `plan.json` (lib/runs/shards/plan.ts) and `shard.json` as the
 * steps read them. The run id is validated before it is spliced into a key.
 */

function runPrefix(runId: string): string {
  assertRunId(runId);
  return `${RUN_OUTPUTS_PREFIX}${runId}/`;
}

/** `plan.json`: the shards' key ranges. */
export function planKey(runId: string): string {
  return `${runPrefix(runId)}plan.json`;
}

/**
 * plan.json is read whole with one ranged GET of at most this many bytes (1,000 shards of even
 * 1 KiB boundaries are 2 MiB; a plan this large is refused).
 */
export const MAX_PLAN_BYTES = 16 * 1024 * 1024;

/** `shard-items.json`: the ShardItems as a JSON array (the Distributed Map's ItemReader). */
export function shardItemsKey(runId: string): string {
  return `${runPrefix(runId)}shard-items.json`;
}

/** Shard numbers have four digits in keys (MAX_SHARDS is at most 9,999). */
export const MAX_SHARD_NUMBER = 9999;

/** `matching-runs/{runId}/shards/{NNNN}/`. */
export function shardPrefix(runId: string, shard: number): string {
  if (!Number.isInteger(shard) || shard < 0 || shard > MAX_SHARD_NUMBER) {
    throw new RangeError(`shard must be an integer 0..${MAX_SHARD_NUMBER}, got ${shard}`);
  }
  return `${runPrefix(runId)}shards/${String(shard).padStart(4, '0')}/`;
}

/** The outputs every shard writes: those of a partitioned run, not the run's manifest (the merge's). */
export const SHARD_OUTPUT_NAMES = RUN_OUTPUT_NAMES.filter(
  (name): name is Exclude<RunOutputName, ShardedOnlyOutputName> => !isShardedOnly(name),
);

/** The outputs of one shard, under the shard's prefix. */
export function shardOutputKeys(runId: string, shard: number): Required<Omit<RunOutputKeys, 'manifest'>> {
  const prefix = shardPrefix(runId, shard);
  const files = new Map(RUN_OUTPUTS.map(({ name, file }) => [name, file]));
  return Object.fromEntries(
    SHARD_OUTPUT_NAMES.map((name) => [name, `${prefix}${files.get(name)}`]),
  ) as Required<Omit<RunOutputKeys, 'manifest'>>;
}

/** `shard.json`, the shard's manifest, written last: its presence means the shard is complete. */
export function shardManifestKey(runId: string, shard: number): string {
  return `${shardPrefix(runId, shard)}shard.json`;
}

const range = z.tuple([z.number().int().nonnegative(), z.number().int().nonnegative()]);
const sized = z.object({ key: z.string(), bytes: z.number().int().nonnegative() });
const csv = sized.extend({ headerBytes: z.number().int().nonnegative() });

/** `shard.json` (docs/decisions.md, "The S3 layout of a sharded run"): what the merge needs of one shard. */
export const shardManifestSchema = z.object({
  runId: z.string(),
  shard: z.number().int().nonnegative(),
  stats: matchStatsSchema,
  counts: z.object({
    accrualsRead: z.number().int().nonnegative(),
    paymentsRead: z.number().int().nonnegative(),
    partitionsDone: z.number().int().nonnegative(),
  }),
  outputs: z.object({
    matchesCsv: csv,
    unmatchedPaymentsCsv: csv,
    unpaidAccrualsCsv: csv,
    resultXlsx: sized,
    partitionsJsonl: sized,
    partitionIndex: sized,
    resultJson: sized.extend({
      elements: z.object({
        matches: range,
        unmatchedPayments: range,
        unpaidAccruals: range,
        rejectedAccruals: range,
        rejectedPayments: range,
      }),
    }),
  }),
});
export type ShardManifest = z.infer<typeof shardManifestSchema>;

/** The plan of a run, read whole from `plan.json`. */
export async function readPlan(deps: { readonly bucket: ResultsBucket }, runId: string): Promise<ShardPlan> {
  const bytes = await deps.bucket.readRange(planKey(runId), 0, MAX_PLAN_BYTES);
  if (bytes === undefined) throw new NotFoundError(`matching run ${runId} has no plan.json`);
  if (bytes.byteLength >= MAX_PLAN_BYTES) throw new Error(`plan.json of matching run ${runId} is too large`);
  const plan = parsePlan(bytes.toString('utf8'));
  if (plan.runId !== runId) throw new Error(`plan.json of matching run ${runId} names run ${plan.runId}`);
  return plan;
}
