import { RUN_OUTPUTS, RUN_OUTPUTS_PREFIX, type RunOutputKeys } from '../outputs.js';
import { assertRunId } from '../run-id.js';

/**
 * S3 keys of a sharded run (notes/shards-contract.md), all under `matching-runs/{runId}/`: the
 * plan, the Map's items, and per shard `shards/{NNNN}/` every output a partitioned run writes plus
 * `shard.json`. The run id is validated before it is spliced into a key.
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

/** The outputs of one shard: those of a partitioned run, under the shard's prefix. */
export function shardOutputKeys(runId: string, shard: number): Required<RunOutputKeys> {
  const prefix = shardPrefix(runId, shard);
  return Object.fromEntries(
    RUN_OUTPUTS.map(({ name, file }) => [name, `${prefix}${file}`]),
  ) as Required<RunOutputKeys>;
}

/** `shard.json`, the shard's manifest, written last: its presence means the shard is complete. */
export function shardManifestKey(runId: string, shard: number): string {
  return `${shardPrefix(runId, shard)}shard.json`;
}
