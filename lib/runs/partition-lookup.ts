import * as z from 'zod';
import { ConflictError, NotFoundError, ValidationError } from '../errors.js';
import { type IdSlot, newIdSlot } from '../matching/index.js';
import type { MatchingRun } from './ledger.js';
import {
  type BranchEntry,
  branchEntrySchema,
  compareKeyPage,
  INDEX_HEAD_BYTES,
  type IndexHeader,
  indexHeaderSchema,
  type LeafEntry,
  leafEntrySchema,
  PARTITION_KINDS,
  type PartitionKey,
  type PartitionKind,
  readKey,
} from './partition-index.js';
import { MAX_PLAN_BYTES, planKey, shardOutputKeys } from './shards/layout.js';
import { parsePlan, shardOfSlot } from './shards/plan.js';

/** Ranged reads of the results bucket (lib/runs/results-bucket.ts `ResultsBucket`). */
export interface RangeReader {
  /** Bytes `[start, start + length)` of the object at `key` (fewer past its end); undefined when there is no object. */
  readRange(key: string, start: number, length: number): Promise<Buffer | undefined>;
}

/** Which partition, and which page of it, a lookup asks for. */
export interface PartitionAddress {
  /** The partition value as text (a path segment, already URL-decoded). */
  readonly value: string;
  /** The kind of value; absent: the kind the run's partition values have (see {@link resolveKey}). */
  readonly type?: PartitionKind;
  /** 1-based. */
  readonly page: number;
}

/** One page of a partition, in the result document's shapes. */
export interface PartitionPage {
  readonly partition: PartitionKey;
  readonly type: PartitionKind;
  readonly page: number;
  readonly pages: number;
  readonly matches: readonly unknown[];
  readonly unmatchedPayments: readonly unknown[];
  readonly unpaidAccruals: readonly unknown[];
  readonly rejected: readonly unknown[];
}

/** What a lookup read from S3. */
export interface LookupCost {
  reads: number;
  bytes: number;
}

/** A JSON number as a path segment gives it: `3`, `-1.5`, `1e+21` (no leading zeros, no `+`, no blanks). */
const NUMBER_TEXT = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?$/;
const OBJECT_ID_TEXT = /^[0-9a-fA-F]{24}$/;

const KIND_TEXT: Readonly<Record<PartitionKind, string>> = {
  number: 'a decimal number',
  string: 'a string',
  objectId: 'a 24-digit hexadecimal ObjectId',
};

/** The key `text` names when read as `kind`, into `slot`; false when it cannot name one. */
function readAs(text: string, kind: PartitionKind, slot: IdSlot): boolean {
  if (kind === 'string') return readKey(text, slot);
  if (kind === 'objectId') return OBJECT_ID_TEXT.test(text) && readKey({ $oid: text }, slot);
  if (!NUMBER_TEXT.test(text)) return false;
  const number = Number(text);
  return Number.isFinite(number) && readKey(number, slot);
}

/**
 * The partition key an address names, against the kinds of values the run has. With `type`, the
 * text must be a value of that kind (400 otherwise). Without it, the text is read as each kind
 * the run's partition values have: when exactly one fits, that is the key; when none does, no
 * partition can have that value (404); when several do (a run with, say, both numbers and strings
 * as values, asked for `3`), `type` must say which (400).
 */
export function resolveKey(address: PartitionAddress, header: IndexHeader, slot: IdSlot): PartitionKind {
  const { value, type } = address;
  if (type !== undefined) {
    if (!readAs(value, type, slot))
      throw new ValidationError('value', `must be ${KIND_TEXT[type]} when type is ${type}`);
    return type;
  }
  const fits = PARTITION_KINDS.filter((kind) => header.kinds[kind] > 0 && readAs(value, kind, newIdSlot()));
  const [only] = fits;
  if (only === undefined) throw noPartition(address, header);
  if (fits.length > 1) {
    throw new ValidationError(
      'type',
      `is required: this run's partition values include ${fits.join(' and ')} values the value could be; say which with type=${fits.join(' or type=')}`,
    );
  }
  readAs(value, only, slot);
  return only;
}

/**
 * Not found. The value itself is left out of every message of the lookup (the client knows what
 * it asked for): problem details of 4xx answers are logged, and a partition value may be personal.
 */
function noPartition(address: PartitionAddress, header: IndexHeader): NotFoundError {
  const present = PARTITION_KINDS.filter((kind) => header.kinds[kind] > 0);
  return new NotFoundError(
    `the run has no such partition (${header.partitionBy}, ` +
      (address.type === undefined
        ? `whose values in this run are: ${present.join(', ') || 'none'})`
        : `${address.type})`),
  );
}

/** Counts what is read. */
class CountingReader {
  constructor(
    private readonly reader: RangeReader,
    readonly cost: LookupCost,
  ) {}

  async read(key: string, start: number, length: number): Promise<Buffer> {
    const bytes = await this.reader.readRange(key, start, length);
    if (bytes === undefined) {
      throw new NotFoundError(
        'the run outputs are no longer in the results bucket (they expire after the retention period)',
      );
    }
    this.cost.reads++;
    this.cost.bytes += bytes.byteLength;
    return bytes;
  }
}

function parseJson(bytes: Buffer, what: string): unknown {
  try {
    return JSON.parse(bytes.toString('utf8'));
  } catch (error) {
    throw new Error(`${what} is not valid JSON`, { cause: error });
  }
}

/** The last entry at or before (key, page), by binary search; undefined when all are after it. */
function lastAtMost<E extends BranchEntry | LeafEntry>(
  entries: readonly E[],
  key: IdSlot,
  page: number,
): E | undefined {
  const slot = newIdSlot();
  let low = 0;
  let high = entries.length;
  while (low < high) {
    const mid = (low + high) >>> 1;
    const entry = entries[mid] as E;
    if (!readKey(entry[0], slot)) throw new Error('partition index entry has an invalid key');
    if (compareKeyPage(slot, entry[1], key, page) <= 0) low = mid + 1;
    else high = mid;
  }
  return entries[low - 1];
}

const dataLineSchema = z.object({
  partition: z.unknown(),
  page: z.number(),
  matches: z.array(z.unknown()),
  unmatchedPayments: z.array(z.unknown()),
  unpaidAccruals: z.array(z.unknown()),
  rejected: z.array(z.unknown()),
});

/** The head of a partition index (one read of {@link INDEX_HEAD_BYTES}) and its header line. */
async function readIndexHead(
  bucket: CountingReader,
  index: string,
): Promise<{ head: Buffer; header: IndexHeader; newline: number }> {
  const head = await bucket.read(index, 0, INDEX_HEAD_BYTES);
  const newline = head.indexOf(0x0a);
  if (newline < 0) throw new Error('partition index has no header line');
  const header = indexHeaderSchema.parse(parseJson(head.subarray(0, newline), 'partition index header'));
  if (header.outOfOrderRejections > 0) {
    throw new ConflictError(
      `partitions cannot be looked up in this run: its inputs were not in partition order, so ${header.outOfOrderRejections} rejected record(s) could not be placed in their partition; see result.json`,
    );
  }
  return { head, header, newline };
}

/**
 * The partition lookup files that hold the partition an address names, in a sharded run (issue
 * 12): each shard wrote its own, so the run's `plan.json` (one GET, at most MAX_PLAN_BYTES) says
 * which shard's key range holds the value. When the text could name keys of several kinds (`3`: a
 * number or a string) in different shards and no `type` says which, each such shard's index head
 * is read (at most three reads of INDEX_HEAD_BYTES): a kind counts only if that shard has values
 * of it, and more than one such kind is ambiguous (400), none not found (404), as in an unsharded
 * run (whose single index knows every kind of the run).
 *
 * Returns the shard's lookup keys, and the address with its `type` set when it had to be told.
 */
async function shardLookupKeys(
  reader: RangeReader,
  runId: string,
  address: PartitionAddress,
  cost: LookupCost,
): Promise<{ keys: { index: string; data: string }; address: PartitionAddress }> {
  const bucket = new CountingReader(reader, cost);
  const planBytes = await bucket.read(planKey(runId), 0, MAX_PLAN_BYTES);
  if (planBytes.byteLength >= MAX_PLAN_BYTES)
    throw new Error(`plan.json of matching run ${runId} is too large`);
  const plan = parsePlan(planBytes.toString('utf8'));
  const keysOf = (shard: number) => {
    const keys = shardOutputKeys(runId, shard);
    return { index: keys.partitionIndex, data: keys.partitionsJsonl };
  };
  const kinds = address.type === undefined ? PARTITION_KINDS : [address.type];
  const candidates: { kind: PartitionKind; shard: number }[] = [];
  for (const kind of kinds) {
    const slot = newIdSlot();
    if (readAs(address.value, kind, slot)) candidates.push({ kind, shard: shardOfSlot(plan, slot) });
  }
  const shards = new Set(candidates.map(({ shard }) => shard));
  const [first] = candidates;
  // One shard to ask (or none: the address is refused by the usual rules, against shard 0's index).
  if (first === undefined || shards.size === 1) return { keys: keysOf(first?.shard ?? 0), address };
  const present: typeof candidates = [];
  for (const candidate of candidates) {
    const { header } = await readIndexHead(bucket, keysOf(candidate.shard).index);
    if (header.kinds[candidate.kind] > 0) present.push(candidate);
  }
  const [only] = present;
  if (only === undefined) {
    throw new NotFoundError(`the run has no such partition (${plan.partitionBy})`);
  }
  if (present.length > 1) {
    const fits = present.map(({ kind }) => kind);
    throw new ValidationError(
      'type',
      `is required: this run's partition values include ${fits.join(' and ')} values the value could be; say which with type=${fits.join(' or type=')}`,
    );
  }
  return { keys: keysOf(only.shard), address: { ...address, type: only.kind } };
}

/**
 * Reads one page of one partition of a run (format: lib/runs/partition-index.ts): the index head
 * (one read of {@link INDEX_HEAD_BYTES}, which also holds the first pages of a small index), one
 * index page per level below the root unless it was in the head, then the page's line of the
 * data. Every read is a bounded range, so what a lookup reads does not grow with the run.
 *
 * Throws NotFoundError (no such partition, or no such page of it), ValidationError (a value that
 * is not of the asked kind, or an ambiguous one without `type`), ConflictError (the index is
 * incomplete: the run's inputs were not in partition order).
 */
export async function readPartitionPage(
  reader: RangeReader,
  keys: { readonly index: string; readonly data: string },
  address: PartitionAddress,
  cost: LookupCost = { reads: 0, bytes: 0 },
): Promise<PartitionPage> {
  const bucket = new CountingReader(reader, cost);
  const { head, header, newline } = await readIndexHead(bucket, keys.index);
  const key = newIdSlot();
  const type = resolveKey(address, header, key);
  const bodyStart = newline + 1;
  const page = async (entry: BranchEntry): Promise<unknown> => {
    const [, , offset, length] = entry;
    const start = bodyStart + offset;
    // A small index, or the start of a large one, came with the head.
    const bytes =
      start + length <= head.byteLength
        ? head.subarray(start, start + length)
        : await bucket.read(keys.index, start, length);
    return parseJson(bytes, 'partition index page');
  };
  let branches: readonly BranchEntry[] = header.root;
  let leaves: readonly LeafEntry[] = [];
  for (let level = header.levels; level > 0; level--) {
    const entry = lastAtMost(branches, key, address.page);
    if (entry === undefined) throw noPartition(address, header);
    const entries = await page(entry);
    if (level > 1) branches = z.array(branchEntrySchema).parse(entries);
    else leaves = z.array(leafEntrySchema).parse(entries);
  }
  const leaf = lastAtMost(leaves, key, address.page);
  const found = newIdSlot();
  if (leaf === undefined || !readKey(leaf[0], found) || compareKeyPage(found, 1, key, 1) !== 0) {
    throw noPartition(address, header);
  }
  const [partition, pageNumber, offset, length, pages] = leaf;
  if (pageNumber !== address.page) {
    throw new NotFoundError(`the partition has ${pages} page(s), not ${address.page}`);
  }
  const line = dataLineSchema.parse(
    parseJson(await bucket.read(keys.data, offset, length), 'partition data line'),
  );
  if (!readKey(line.partition, found) || compareKeyPage(found, line.page, key, address.page) !== 0) {
    throw new Error('partition data line does not hold the partition its index entry names');
  }
  return {
    partition,
    type,
    page: pageNumber,
    pages,
    matches: line.matches,
    unmatchedPayments: line.unmatchedPayments,
    unpaidAccruals: line.unpaidAccruals,
    rejected: line.rejected,
  };
}

/** One page of a partition of a run, as `GET /matching-runs/{runId}/partitions/{value}` answers. */
export interface PartitionLookupView {
  readonly runId: string;
  readonly partitionBy: string;
  readonly partition: PartitionKey;
  readonly page: number;
  readonly pages: number;
  /** The path of the next page, when there is one. */
  readonly next?: string;
  readonly matches: readonly unknown[];
  readonly unmatchedPayments: readonly unknown[];
  readonly unpaidAccruals: readonly unknown[];
  readonly rejected: readonly unknown[];
}

export interface PartitionLookupsDeps {
  readonly ledger: { get(runId: string): Promise<MatchingRun | undefined> };
  readonly reader: RangeReader;
}

/** The text that names a key of `type` in a path: the number as JavaScript writes it, the hex of an ObjectId, the string itself. */
function keyText(partition: PartitionKey): string {
  return typeof partition === 'object' ? partition.$oid : String(partition);
}

/**
 * Partition lookups (SPEC §9): one page of one partition of a succeeded, partitioned run, read
 * from the lookup outputs its worker wrote. Reads the run from the ledger (one GetItem), then a
 * bounded amount from S3 (see {@link readPartitionPage}).
 */
export class PartitionLookups {
  constructor(private readonly deps: PartitionLookupsDeps) {}

  /**
   * Throws NotFoundError (no such run, partition or page), ConflictError (the run is not
   * succeeded, not partitioned, or has no usable partition index), ValidationError (see
   * {@link resolveKey}).
   */
  async lookUp(runId: string, address: PartitionAddress, cost?: LookupCost): Promise<PartitionLookupView> {
    const run = await this.deps.ledger.get(runId);
    if (!run) throw new NotFoundError(`matching run ${runId} does not exist`);
    if (run.status !== 'succeeded') {
      throw new ConflictError(
        `matching run ${runId} is ${run.status}: its partitions can be looked up once it has succeeded`,
      );
    }
    if (run.partitionBy === undefined) {
      throw new ConflictError(
        `matching run ${runId} is not partitioned (it has no partitionBy): see its result.json`,
      );
    }
    const spent = cost ?? { reads: 0, bytes: 0 };
    let found: PartitionPage;
    if (run.shards !== undefined) {
      // A sharded run: each shard wrote the lookup files of its key range.
      const shard = await shardLookupKeys(this.deps.reader, runId, address, spent);
      found = await readPartitionPage(this.deps.reader, shard.keys, shard.address, spent);
    } else {
      const index = run.outputs?.partitionIndex;
      const data = run.outputs?.partitionsJsonl;
      if (index === undefined || data === undefined) {
        throw new ConflictError(
          `matching run ${runId} has no partition index (it was written before partition lookups existed): see its result.json`,
        );
      }
      found = await readPartitionPage(this.deps.reader, { index, data }, address, spent);
    }
    const { partition, page, pages } = found;
    return {
      runId,
      partitionBy: run.partitionBy,
      partition,
      page,
      pages,
      ...(page < pages
        ? {
            next: `/matching-runs/${runId}/partitions/${encodeURIComponent(keyText(partition))}?type=${found.type}&page=${page + 1}`,
          }
        : {}),
      matches: found.matches,
      unmatchedPayments: found.unmatchedPayments,
      unpaidAccruals: found.unpaidAccruals,
      rejected: found.rejected,
    };
  }
}
