import { EJSON, ObjectId } from 'bson';
import type { Document } from 'mongodb';
import * as z from 'zod';
import {
  compareSlots,
  ID_NUMBER,
  ID_OBJECT_ID,
  ID_STRING,
  type IdKind,
  type IdSlot,
  newIdSlot,
  type RecordId,
  readIdInto,
} from '../../matching/index.js';

/**
 * The plan of a sharded run (issue 12, notes/shards-contract.md): the partition key space cut
 * into contiguous ranges of roughly equal record counts, and the MongoDB filter of each range.
 * Pure: the store reads (estimates, `$sample`) are in plan-step.ts.
 *
 * Partition values the matcher accepts ("usable": finite numbers, int64 within ±(2^53 − 1),
 * strings, ObjectIds) are cut at quantiles of a sample, in MongoDB's order (numbers < strings <
 * ObjectIds). Every other record (missing field, null, NaN, ±Infinity, an unsafe int64, a
 * Decimal128, a boolean, date, document, array, or an array on the way to a dotted field) is
 * rejected by the matcher, and goes to shard 0, whatever it sorts next to: so it is rejected in
 * exactly one shard.
 */

/** How `shards: 'auto'` decides (from config, SHARD_*; defaults as the contract says). */
export interface ShardOptions {
  /** Below this many estimated records (accruals + payments), `auto` makes one shard. */
  readonly autoThresholdRecords: number;
  /** `auto`: about this many records per shard. */
  readonly recordsPerShard: number;
  /** Never more shards than this. */
  readonly maxShards: number;
}

export const DEFAULT_SHARD_OPTIONS: ShardOptions = {
  autoThresholdRecords: 2_000_000,
  recordsPerShard: 1_000_000,
  maxShards: 1000,
};

/** A boundary between two shards: a usable partition value. */
export type Boundary = RecordId;

/** One shard of a plan: `[from, to)`; shard 0 has no `from` (and takes every unusable value), the last no `to`. */
export interface ShardRange {
  readonly shard: number;
  readonly from?: Boundary;
  readonly to?: Boundary;
}

/** `plan.json` (notes/shards-contract.md), with its boundaries as values. */
export interface ShardPlan {
  readonly runId: string;
  readonly partitionBy: string;
  readonly estimatedRecords: number;
  readonly shards: readonly ShardRange[];
}

/**
 * How many shards a run asks for: a number as asked (at most `maxShards`), or `auto`: one below
 * `autoThresholdRecords` estimated records, else one per `recordsPerShard`, at most `maxShards`.
 * The plan may make fewer (see {@link planBoundaries}).
 */
export function shardCount(
  requested: 'auto' | number,
  estimatedRecords: number,
  options: ShardOptions,
): number {
  const wanted =
    requested === 'auto'
      ? estimatedRecords < options.autoThresholdRecords
        ? 1
        : Math.ceil(estimatedRecords / Math.max(1, options.recordsPerShard))
      : requested;
  return Math.max(1, Math.min(Math.floor(wanted), options.maxShards));
}

/**
 * The partition value as MongoDB's filters see it, read into `slot` when the matcher would accept
 * it: a JavaScript number (finite), a string, or an ObjectId / Int32 / Double / Long instance
 * (a Long only within ±(2^53 − 1)). Unlike the matcher's `readIdInto`, a plain `{ $oid }` or
 * `{ $numberLong }` object is not a value here: to a query it is a document (neither store hands
 * such objects out: both read Extended JSON into BSON values).
 */
export function readUsable(value: unknown, slot: IdSlot): boolean {
  if (typeof value === 'number' || typeof value === 'string') return readIdInto(value, slot);
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  const tag = (value as { _bsontype?: unknown })._bsontype;
  if (tag !== 'ObjectId' && tag !== 'Long' && tag !== 'Int32' && tag !== 'Double') return false;
  return readIdInto(value, slot);
}

/** A sample of one collection's partition values, and how many records the collection holds. */
export interface CollectionSample {
  readonly values: readonly unknown[];
  readonly estimatedCount: number;
}

interface Weighted {
  readonly slot: IdSlot;
  weight: number;
}

/**
 * Boundaries that cut the records into `shards` ranges of about equal weight: each sampled value
 * stands for `estimatedCount / values.length` records of its collection, unusable values weigh on
 * shard 0. Each of the `shards − 1` cuts goes to the distinct sampled value nearest its quantile;
 * cuts that fall on the same value are merged, so the plan may have fewer shards than asked: one
 * partition cannot be split, and a partition bigger than a shard's share makes its shard that much
 * bigger (at most as big as the partition, plus a share).
 *
 * Returns the boundaries in ascending order, strictly increasing (shard count = length + 1).
 */
export function planBoundaries(samples: readonly CollectionSample[], shards: number): Boundary[] {
  if (shards <= 1) return [];
  let unusable = 0;
  const items: Weighted[] = [];
  for (const { values, estimatedCount } of samples) {
    if (values.length === 0) continue;
    const weight = estimatedCount / values.length;
    for (const value of values) {
      const slot = newIdSlot();
      if (readUsable(value, slot)) items.push({ slot, weight });
      else unusable += weight;
    }
  }
  items.sort((a, b) => compareSlots(a.slot, b.slot));
  const distinct: Weighted[] = [];
  for (const item of items) {
    const last = distinct.at(-1);
    if (last !== undefined && compareSlots(last.slot, item.slot) === 0) last.weight += item.weight;
    else distinct.push({ slot: item.slot, weight: item.weight });
  }
  // before[k]: the weight of everything below distinct[k] (unusable values first, on shard 0).
  const before: number[] = [unusable];
  for (const entry of distinct) before.push((before.at(-1) as number) + entry.weight);
  const total = before.at(-1) as number;
  const cuts: number[] = [];
  let k = 0;
  for (let j = 1; j < shards; j++) {
    const target = (total * j) / shards;
    while (k < distinct.length && (before[k + 1] as number) <= target) k++;
    const nearer =
      k < distinct.length && (before[k + 1] as number) - target < target - (before[k] as number) ? k + 1 : k;
    // A cut below everything would leave shard 0 empty; one above everything, the last shard.
    if (nearer >= distinct.length || (nearer === 0 && unusable === 0)) continue;
    if (cuts.at(-1) !== nearer) cuts.push(nearer);
  }
  return cuts.map((cut) => slotValue((distinct[cut] as Weighted).slot));
}

function slotValue(slot: IdSlot): Boundary {
  if (slot.kind === ID_NUMBER) return slot.num;
  if (slot.kind === ID_STRING) return slot.str;
  return ObjectId.createFromHexString(slot.str);
}

function boundarySlot(value: Boundary): IdSlot {
  const slot = newIdSlot();
  if (!readUsable(value, slot))
    throw new Error('a shard boundary must be a finite number, string or ObjectId');
  return slot;
}

/** The ranges between `boundaries` (ascending): shard 0 unbounded below, the last unbounded above. */
export function shardRanges(boundaries: readonly Boundary[]): ShardRange[] {
  const ranges: ShardRange[] = [];
  for (let shard = 0; shard <= boundaries.length; shard++) {
    const from = boundaries[shard - 1];
    const to = boundaries[shard];
    ranges.push({ shard, ...(from === undefined ? {} : { from }), ...(to === undefined ? {} : { to }) });
  }
  return ranges;
}

/**
 * The shard a partition value belongs to: the range holding it, or shard 0 for a value the matcher
 * rejects (see {@link readUsable}).
 */
export function shardOf(plan: Pick<ShardPlan, 'shards'>, value: unknown): number {
  const slot = newIdSlot();
  return readUsable(value, slot) ? shardOfSlot(plan, slot) : 0;
}

/** The shard whose range holds a usable partition value (binary search over the boundaries). */
export function shardOfSlot(plan: Pick<ShardPlan, 'shards'>, slot: IdSlot): number {
  let low = 0;
  let high = plan.shards.length - 1;
  // The first shard whose `to` is above the value; the last has none.
  while (low < high) {
    const mid = (low + high) >>> 1;
    const to = plan.shards[mid]?.to;
    if (to !== undefined && compareSlots(slot, boundarySlot(to)) < 0) high = mid;
    else low = mid + 1;
  }
  return low;
}

const MAX_SAFE = Number.MAX_SAFE_INTEGER;

/**
 * BSON types no usable partition value has (`double`, `int` and `long` are usable within limits,
 * `string` and `objectId` always).
 */
const UNUSABLE_TYPES = [
  'null',
  'undefined',
  'bool',
  'object',
  'array',
  'binData',
  'date',
  'regex',
  'timestamp',
  'decimal',
  'minKey',
  'maxKey',
  'javascript',
  'javascriptWithScope',
  'symbol',
  'dbPointer',
] as const;

/** `a.b.c` → `['a', 'a.b']`: the paths leading to a dotted field. */
function parentPaths(field: string): string[] {
  const parts = field.split('.');
  return parts.slice(1).map((_, i) => parts.slice(0, i + 1).join('.'));
}

/**
 * The filter pieces of usable values in `[from, to)`, one per BSON type in the range. A range
 * query is type-bracketed in MongoDB (`$lt: 'k'` matches no number), so a range across types is
 * an `$or` of per-type pieces, each also pinned to its type with `$type`; numbers are split so that
 * doubles are finite (no NaN, no ±Infinity) and int64 within ±(2^53 − 1), and Decimal128 values,
 * which the matcher rejects, never match.
 */
function typePieces(field: string, from: IdSlot | undefined, to: IdSlot | undefined): Document[] {
  const pieces: Document[] = [];
  const kinds: IdKind[] = [ID_NUMBER, ID_STRING, ID_OBJECT_ID];
  for (const kind of kinds) {
    if ((from !== undefined && kind < from.kind) || (to !== undefined && kind > to.kind)) continue;
    const lower = from?.kind === kind ? slotValue(from) : undefined;
    const upper = to?.kind === kind ? slotValue(to) : undefined;
    if (kind === ID_NUMBER) {
      const low = lower as number | undefined;
      const high = upper as number | undefined;
      pieces.push({
        [field]: {
          $type: 'double',
          ...(low === undefined ? { $gt: Number.NEGATIVE_INFINITY } : { $gte: low }),
          $lt: high ?? Number.POSITIVE_INFINITY,
        },
      });
      if ((low === undefined || low <= MAX_SAFE) && (high === undefined || high > -MAX_SAFE)) {
        pieces.push({
          [field]: {
            $type: ['int', 'long'],
            $gte: low === undefined ? -MAX_SAFE : Math.max(low, -MAX_SAFE),
            ...(high === undefined || high > MAX_SAFE ? { $lte: MAX_SAFE } : { $lt: high }),
          },
        });
      }
      continue;
    }
    pieces.push({
      [field]: {
        $type: kind === ID_STRING ? 'string' : 'objectId',
        ...(lower === undefined ? {} : { $gte: lower }),
        ...(upper === undefined ? {} : { $lt: upper }),
      },
    });
  }
  return pieces;
}

/** Usable values in `[from, to)`: one of the type pieces, and no array on the way to the field or at it. */
function usableIn(field: string, from: IdSlot | undefined, to: IdSlot | undefined): Document {
  const pieces = typePieces(field, from, to);
  const notArrays = [...parentPaths(field), field].map((path) => ({ [path]: { $not: { $type: 'array' } } }));
  return { $and: [pieces.length === 1 ? pieces[0] : { $or: pieces }, ...notArrays] };
}

/** Every record whose partition value the matcher rejects (see the module comment). */
function unusable(field: string): Document {
  return {
    $or: [
      { [field]: { $exists: false } },
      { [field]: { $type: [...UNUSABLE_TYPES] } },
      {
        [field]: { $type: 'double', $not: { $gt: Number.NEGATIVE_INFINITY, $lt: Number.POSITIVE_INFINITY } },
      },
      { [field]: { $type: 'long', $gt: MAX_SAFE } },
      { [field]: { $type: 'long', $lt: -MAX_SAFE } },
      ...parentPaths(field).map((path) => ({ [path]: { $type: 'array' } })),
    ],
  };
}

/**
 * The MongoDB filter of one shard of `plan`: usable partition values in its range, and for shard
 * 0 also every unusable one. The shards' filters partition any collection: every document matches
 * exactly one (the shards above 0 tile the usable values from shard 1's `from` up, shard 0 is the
 * rest). A plan of one shard reads everything (`{}`).
 */
export function shardFilter(plan: Pick<ShardPlan, 'partitionBy' | 'shards'>, shard: number): Document {
  const range = plan.shards[shard];
  if (range === undefined) throw new RangeError(`the plan has no shard ${shard}`);
  const field = plan.partitionBy;
  const from = range.from === undefined ? undefined : boundarySlot(range.from);
  const to = range.to === undefined ? undefined : boundarySlot(range.to);
  if (shard > 0) return usableIn(field, from, to);
  if (to === undefined) return {};
  return { $or: [usableIn(field, undefined, to), unusable(field)] };
}

const ejsonValue = z.unknown();
const planFileSchema = z.object({
  runId: z.string(),
  partitionBy: z.string(),
  estimatedRecords: z.number().nonnegative(),
  shards: z
    .array(
      z.object({
        shard: z.number().int().nonnegative(),
        from: ejsonValue.optional(),
        to: ejsonValue.optional(),
      }),
    )
    .min(1),
});

/** `plan.json`'s text: boundaries as relaxed Extended JSON (numbers, strings, `{"$oid": …}`). */
export function planJson(plan: ShardPlan): string {
  return EJSON.stringify(
    {
      runId: plan.runId,
      partitionBy: plan.partitionBy,
      estimatedRecords: plan.estimatedRecords,
      shards: plan.shards.map((range) => ({ ...range })),
    },
    { relaxed: true },
  );
}

/** A plan read back from {@link planJson}'s text; throws on anything else (shards out of order included). */
export function parsePlan(text: string): ShardPlan {
  const raw = planFileSchema.parse(JSON.parse(text));
  const value = (boundary: unknown): Boundary => {
    const parsed = EJSON.deserialize({ v: boundary }, { relaxed: true }).v as unknown;
    const slot = newIdSlot();
    if (!readUsable(parsed, slot)) throw new Error('plan.json has a boundary that is no partition value');
    return slotValue(slot);
  };
  const shards = raw.shards.map((range, index): ShardRange => {
    if (range.shard !== index) throw new Error(`plan.json lists shard ${range.shard} at position ${index}`);
    return {
      shard: range.shard,
      ...(range.from === undefined ? {} : { from: value(range.from) }),
      ...(range.to === undefined ? {} : { to: value(range.to) }),
    };
  });
  shards.forEach((range, index) => {
    const next = shards[index + 1];
    const bounded = next === undefined ? range.to === undefined : range.to !== undefined;
    if ((index === 0) !== (range.from === undefined) || !bounded) {
      throw new Error('plan.json: only shard 0 may lack `from`, only the last `to`');
    }
    if (next && compareSlots(boundarySlot(range.to as Boundary), boundarySlot(next.from as Boundary)) !== 0) {
      throw new Error(`plan.json: shard ${index + 1} does not start where shard ${index} ends`);
    }
    if (range.from !== undefined && range.to !== undefined) {
      if (compareSlots(boundarySlot(range.from), boundarySlot(range.to)) >= 0) {
        throw new Error(`plan.json: shard ${index} is empty or reversed`);
      }
    }
  });
  return { runId: raw.runId, partitionBy: raw.partitionBy, estimatedRecords: raw.estimatedRecords, shards };
}
