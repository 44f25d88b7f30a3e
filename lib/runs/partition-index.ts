import * as z from 'zod';
import {
  compareSlots,
  ID_STRING,
  type IdKind,
  type IdSlot,
  readIdInto,
  slotToJson,
} from '../matching/index.js';

/**
 * The format of the partition lookup outputs of a partitioned run (SPEC §9), shared by the
 * worker's writer (partition-index-writer.ts) and the lookup (partition-lookup.ts).
 *
 * `partitions.jsonl`, the data: one line per page of a partition, in ascending BSON order of the
 * partition value, then page number. Each line is a self-contained JSON object
 * `{"partition":K,"page":P,"matches":[…],"unmatchedPayments":[…],"unpaidAccruals":[…],"rejected":[…]}`
 * whose four arrays hold the partition's elements exactly as result.json writes them; a partition
 * has one page unless its elements take more than {@link DATA_PAGE_BYTES}, and its pages'
 * arrays concatenated are its lists in result.json order.
 *
 * `partition-index.jsonl`, a B-tree over the data: a header line (JSON object, at most
 * {@link INDEX_HEAD_BYTES}) holding the root, then the body: pages, one JSON array of entries per
 * line. A leaf entry `[K, P, offset, length, pages]` gives the byte range of page P of partition K
 * in the data; a branch entry `[K, P, offset, length]` gives the byte range, within the body, of
 * a page one level down whose first entry is (K, P). `levels` pages lie between the root and the
 * data. A lookup reads the head, one page per level below the root, then one range of the data:
 * a bounded amount whatever the size of the run, since each page is at most about
 * {@link INDEX_PAGE_BYTES}.
 *
 * Keys: a number as a JSON number, a string as a JSON string, an ObjectId as `{"$oid": hex}` (the
 * result document's Extended JSON); they compare in BSON order (numbers, strings by code point,
 * ObjectIds), exactly as the `(partition, date, id)` sort delivers partitions.
 */

export const PARTITION_INDEX_FORMAT = 'partition-index/1';

/** A data line (page of a partition) holds at most this many bytes of elements, unless one element alone is larger. */
export const DATA_PAGE_BYTES = 256 * 1024;
/** An index page holds at most about this many bytes (at least two entries, so that each level is at most half the one below). */
export const INDEX_PAGE_BYTES = 32 * 1024;
/** What the lookup reads first from the index: the header line always fits in it (the writer checks). */
export const INDEX_HEAD_BYTES = 64 * 1024;
/**
 * Partition values that are strings longer than this (UTF-16 code units) are not indexed: a
 * lookup cannot ask for them (the request is refused), and index pages stay small.
 */
export const MAX_PARTITION_VALUE_LENGTH = 256;

/** The kinds of partition values, as the lookup's `type` names them, in BSON order. */
export const PARTITION_KINDS = ['number', 'string', 'objectId'] as const;
export type PartitionKind = (typeof PARTITION_KINDS)[number];

export function kindName(kind: IdKind): PartitionKind {
  return PARTITION_KINDS[kind];
}

/** A partition value as the outputs write it. */
export type PartitionKey = number | string | { $oid: string };

export function keyOf(slot: IdSlot): PartitionKey {
  return slotToJson(slot);
}

/** Reads a key written by {@link keyOf} into `slot`; false when it is not one. */
export function readKey(key: unknown, slot: IdSlot): boolean {
  return readIdInto(key, slot);
}

/** True when a partition value with this slot is indexed (see {@link MAX_PARTITION_VALUE_LENGTH}). */
export function isIndexable(slot: IdSlot): boolean {
  return slot.kind !== ID_STRING || slot.str.length <= MAX_PARTITION_VALUE_LENGTH;
}

/** Orders (key, page) pairs: keys in BSON order, then pages. */
export function compareKeyPage(a: IdSlot, aPage: number, b: IdSlot, bPage: number): number {
  return compareSlots(a, b) || aPage - bPage;
}

const count = z.number().int().nonnegative();
const keySchema = z.union([z.number(), z.string(), z.object({ $oid: z.string() })]);
/** `[key, page, offset, length]`: a page one level down, at `[offset, offset + length)` of the index body, starting at (key, page). */
export const branchEntrySchema = z.tuple([keySchema, count, count, count]);
export type BranchEntry = z.infer<typeof branchEntrySchema>;
/** `[key, page, offset, length, pages]`: page `page` of `pages` of a partition, at `[offset, offset + length)` of the data. */
export const leafEntrySchema = z.tuple([keySchema, count, count, count, count]);
export type LeafEntry = z.infer<typeof leafEntrySchema>;

/** The header line of the index. */
export const indexHeaderSchema = z.object({
  format: z.literal(PARTITION_INDEX_FORMAT),
  partitionBy: z.string(),
  /** Partitions indexed, in all, and per kind of value. */
  partitions: count,
  kinds: z.object({ number: count, string: count, objectId: count }),
  /**
   * Rejected records whose partition value was readable but whose partition had already been
   * written (the inputs were not in partition order): they are in result.json but in no
   * partition here, so the lookup refuses to answer for the run rather than answer incompletely.
   */
  outOfOrderRejections: count,
  /** Page levels between the root and the data (at least 1). */
  levels: count,
  root: z.array(branchEntrySchema),
});
export type IndexHeader = z.infer<typeof indexHeaderSchema>;

/**
 * Groups entries (JSON texts) into pages of at most `maxBytes` (at least two entries each), and
 * hands each page on as one line with the entry that points to it.
 */
export class PageBuilder {
  private entries: string[] = [];
  private bytes = 2;
  private first: { key: PartitionKey; page: number } | undefined;

  constructor(
    private readonly maxBytes: number,
    /** Writes a page (a JSON array, without a newline) and returns its offset and length. */
    private readonly write: (page: string) => { offset: number; length: number },
    private readonly pointTo: (entry: BranchEntry) => void,
  ) {}

  add(key: PartitionKey, page: number, entry: string): void {
    const size = Buffer.byteLength(entry) + 1;
    if (this.entries.length >= 2 && this.bytes + size > this.maxBytes) this.flush();
    if (this.entries.length === 0) this.first = { key, page };
    this.entries.push(entry);
    this.bytes += size;
  }

  flush(): void {
    if (this.first === undefined) return;
    const { offset, length } = this.write(`[${this.entries.join(',')}]`);
    this.pointTo([this.first.key, this.first.page, offset, length]);
    this.entries = [];
    this.bytes = 2;
    this.first = undefined;
  }
}
