import { assertRunId } from './run-id.js';

const CSV = 'text/csv; charset=utf-8';
const JSON_TEXT = 'application/json; charset=utf-8';
const XLSX = 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet';
const JSON_LINES = 'application/x-ndjson; charset=utf-8';

/**
 * The outputs of a run (SPEC §4, §8, §9), in the order they are uploaded. `result.json` stays
 * last: its presence means the set is complete. Adding an output is adding it here (and to
 * {@link OUTPUTS_ADDED_LATER}); the type checker then asks each output source
 * (lib/runs/output-source.ts) for its chunks. Outputs marked `partitionedOnly` are written by
 * partitioned runs only (the partition lookup's data and index, lib/runs/partition-index.ts):
 * {@link runOutputKeys} leaves them out for other runs. Sharded runs (lib/runs/shards/) are
 * partitioned runs whose outputs are merged from their shards' (lib/runs/shards/merge.ts): outputs
 * marked `perShard` stay with each shard and are not written at the run level, and the one marked
 * `shardedOnly` (the run's manifest: every shard's key range and outputs) is written by them alone.
 */
export const RUN_OUTPUTS = [
  { name: 'matchesCsv', file: 'matches.csv', contentType: CSV },
  { name: 'unmatchedPaymentsCsv', file: 'unmatched-payments.csv', contentType: CSV },
  { name: 'unpaidAccrualsCsv', file: 'unpaid-accruals.csv', contentType: CSV },
  { name: 'resultXlsx', file: 'result.xlsx', contentType: XLSX, perShard: true },
  {
    name: 'partitionsJsonl',
    file: 'partitions.jsonl',
    contentType: JSON_LINES,
    partitionedOnly: true,
    perShard: true,
  },
  {
    name: 'partitionIndex',
    file: 'partition-index.jsonl',
    contentType: JSON_LINES,
    partitionedOnly: true,
    perShard: true,
  },
  {
    name: 'manifest',
    file: 'manifest.json',
    contentType: JSON_TEXT,
    partitionedOnly: true,
    shardedOnly: true,
  },
  { name: 'resultJson', file: 'result.json', contentType: JSON_TEXT },
] as const;

type RunOutput = (typeof RUN_OUTPUTS)[number];

/** An output's name in the ledger, the HTTP view and the output sources. */
export type RunOutputName = RunOutput['name'];

/** The outputs only partitioned runs write. */
export type PartitionedOnlyOutputName = Extract<RunOutput, { partitionedOnly: true }>['name'];

/** The outputs every run writes. */
export type EveryRunOutputName = Exclude<RunOutputName, PartitionedOnlyOutputName>;

/**
 * The outputs a recorded run may lack: those added after the first release (runs recorded before
 * have no key for them) and those only partitioned runs write. One rule for the run record and its
 * HTTP view: an output is listed when the run recorded it (lib/runs/run-record.ts).
 */
export const OUTPUTS_ADDED_LATER = [
  'unpaidAccrualsCsv',
  'resultXlsx',
  'partitionsJsonl',
  'partitionIndex',
  'manifest',
] as const satisfies readonly RunOutputName[];

/** The output names, in upload order. */
export const RUN_OUTPUT_NAMES = RUN_OUTPUTS.map((output) => output.name) as [
  RunOutputName,
  ...RunOutputName[],
];

/** True for the outputs only partitioned runs write. */
export function isPartitionedOnly(name: RunOutputName): name is PartitionedOnlyOutputName {
  return RUN_OUTPUTS.some((output) => output.name === name && 'partitionedOnly' in output);
}

/** True for the outputs a sharded run keeps per shard instead of writing at the run level. */
export function isPerShard(name: RunOutputName): boolean {
  return RUN_OUTPUTS.some((output) => output.name === name && 'perShard' in output);
}

/** True for the outputs only sharded runs write. */
export function isShardedOnly(name: RunOutputName): name is ShardedOnlyOutputName {
  return RUN_OUTPUTS.some((output) => output.name === name && 'shardedOnly' in output);
}

/** S3 keys of the outputs of one unsharded matching run: those of partitioned runs only when it is one. */
export type RunOutputKeys = Readonly<Record<EveryRunOutputName, string>> &
  Readonly<Partial<Record<PartitionedOnlyOutputName, string>>>;

/** The outputs sharded runs keep per shard (not written at the run level). */
export type PerShardOutputName = Extract<RunOutput, { perShard: true }>['name'];

/** The outputs only sharded runs write. */
export type ShardedOnlyOutputName = Extract<RunOutput, { shardedOnly: true }>['name'];

/** S3 keys of the run-level outputs of a sharded run (lib/runs/shards/merge.ts). */
export type ShardedRunOutputKeys = Readonly<Record<Exclude<RunOutputName, PerShardOutputName>, string>>;

/** The output keys of any run, as the ledger records them (the outputs a run lacks are absent). */
export type AnyRunOutputKeys = Readonly<Partial<Record<RunOutputName, string>>>;

/** Prefix under which every run's outputs live; the bucket's lifecycle rule targets it too. */
export const RUN_OUTPUTS_PREFIX = 'matching-runs/';

/**
 * The output keys of an unsharded run, with or without a partition field (`partitionBy`): the
 * outputs it writes, in upload order. The id is validated first so that
 * nothing but a run id can ever be spliced into a key (no `../` or `/` tricks).
 *
 * @example
 * ```ts
 * runOutputKeys(runId).resultJson; // 'matching-runs/01JDQ…/result.json'
 * runOutputKeys(runId, 'account').partitionIndex; // 'matching-runs/01JDQ…/partition-index.jsonl'
 * ```
 */
export function runOutputKeys(runId: string, partitionBy?: string): RunOutputKeys {
  return outputKeys(
    runId,
    (name) => (partitionBy !== undefined || !isPartitionedOnly(name)) && !isShardedOnly(name),
  );
}

/**
 * The keys of the outputs a sharded run writes at the run level (its per-shard outputs are listed
 * in its manifest), in upload order.
 *
 * @example
 * ```ts
 * shardedRunOutputKeys(runId).manifest; // 'matching-runs/01JDQ…/manifest.json'
 * ```
 */
export function shardedRunOutputKeys(runId: string): ShardedRunOutputKeys {
  return outputKeys(runId, (name) => !isPerShard(name)) as ShardedRunOutputKeys;
}

function outputKeys(runId: string, written: (name: RunOutputName) => boolean): RunOutputKeys {
  assertRunId(runId);
  const prefix = `${RUN_OUTPUTS_PREFIX}${runId}/`;
  return Object.fromEntries(
    RUN_OUTPUTS.filter(({ name }) => written(name)).map(({ name, file }) => [name, `${prefix}${file}`]),
  ) as RunOutputKeys;
}
