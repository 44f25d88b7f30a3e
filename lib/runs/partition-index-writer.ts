import {
  compareSlots,
  copySlot,
  type IdSlot,
  type MatchOutcome,
  newIdSlot,
  partitionPath,
  partitionValueOf,
  readIdInto,
} from '../matching/index.js';
import {
  type BranchEntry,
  DATA_PAGE_BYTES,
  INDEX_HEAD_BYTES,
  INDEX_PAGE_BYTES,
  type IndexHeader,
  isIndexable,
  keyOf,
  kindName,
  PARTITION_INDEX_FORMAT,
  PageBuilder,
  type PartitionKind,
} from './partition-index.js';

/** Where the writer puts a file's text: appended now, read back once after the run (lib/runs/spill.ts `SpillFile`). */
export interface TextSpill {
  append(chunks: Iterable<string>): void;
  read(): AsyncIterable<string>;
}

/** Page sizes (tests make them small to get many pages and levels out of little data). */
export interface PartitionIndexOptions {
  readonly dataPageBytes?: number;
  readonly indexPageBytes?: number;
}

const SECTIONS = ['matches', 'unmatchedPayments', 'unpaidAccruals', 'rejected'] as const;
const MATCHES = 0;
const UNMATCHED = 1;
const UNPAID = 2;
const REJECTED = 3;

/**
 * Writes the partition lookup outputs of a partitioned run (format: lib/runs/partition-index.ts)
 * as its partitions close: `add` takes what the matcher hands each partition's sink
 * (`matchPaymentsByPartition`), writes the partition's data lines at once and its leaf entries
 * into index pages; `close` builds the levels above them (small: one entry per page below). Holds
 * one page of data and one index page at a time, plus the entries of the upper levels.
 *
 * A part's partition is that of its matches and leftovers, or, when it has none (every record of
 * the partition was rejected), the highest readable partition value among its rejections.
 * Rejected records go with the partition their own value names; those without a usable value
 * belong to none. A rejection whose partition was already written (out of order: the inputs were
 * not sorted by partition) cannot be added any more and is counted in the header instead.
 */
export class PartitionIndexWriter {
  private readonly path: readonly string[];
  private readonly dataPageBytes: number;
  private readonly indexPageBytes: number;
  private readonly value = newIdSlot();
  private readonly current = newIdSlot();
  private hasCurrent = false;
  private currentKey = '';
  private readonly last = newIdSlot();
  private hasLast = false;
  private dataBytes = 0;
  private leafBytes = 0;
  /** One entry per leaf page, in order: the level above the leaves. */
  private readonly leafPages: BranchEntry[] = [];
  private readonly leaves: PageBuilder;
  /** The page being filled: element texts per section. */
  private page: string[][] = [[], [], [], []];
  private pageBytes = 0;
  private pageElements = 0;
  /** Byte ranges of the pages of the current partition written so far. */
  private pageRanges: Array<readonly [number, number]> = [];
  private partitions = 0;
  private readonly kinds: Record<PartitionKind, number> = { number: 0, string: 0, objectId: 0 };
  private outOfOrder = 0;
  private finished: { readonly header: string; readonly upper: readonly string[] } | undefined;

  constructor(
    private readonly partitionBy: string,
    private readonly data: TextSpill,
    private readonly index: TextSpill,
    options: PartitionIndexOptions = {},
  ) {
    this.path = partitionPath(partitionBy);
    this.dataPageBytes = options.dataPageBytes ?? DATA_PAGE_BYTES;
    this.indexPageBytes = options.indexPageBytes ?? INDEX_PAGE_BYTES;
    if (this.indexPageBytes > INDEX_HEAD_BYTES / 2) {
      throw new RangeError(`index pages must be at most ${INDEX_HEAD_BYTES / 2} bytes`);
    }
    this.leaves = new PageBuilder(
      this.indexPageBytes,
      (page) => {
        this.index.append([page, '\n']);
        const length = Buffer.byteLength(page);
        const offset = this.leafBytes;
        this.leafBytes += length + 1;
        return { offset, length };
      },
      (entry) => this.leafPages.push(entry),
    );
  }

  /** Writes one part (a `PartitionSink` call): synchronous, so it can run inside the matcher. */
  readonly add = (part: MatchOutcome): void => {
    if (this.finished) throw new Error('the partition index is closed');
    this.hasCurrent = false;
    for (const match of part.matches()) this.addOwn(MATCHES, match, match.payment);
    for (const payment of part.unmatchedPayments()) this.addOwn(UNMATCHED, payment, payment);
    for (const accrual of part.unpaidAccruals()) this.addOwn(UNPAID, accrual, accrual);
    if (!this.hasCurrent) this.chooseFromRejected(part.rejected());
    for (const rejected of part.rejected()) {
      if (!this.read(rejected.record)) continue;
      if (this.hasCurrent && compareSlots(this.value, this.current) === 0) this.append(REJECTED, rejected);
      else this.outOfOrder++;
    }
    if (this.hasCurrent) this.endPartition();
  };

  /** Writes the upper levels and the header; call once, after the last part, before reading. */
  close(): void {
    if (this.finished) return;
    this.leaves.flush();
    let entries: BranchEntry[] = this.leafPages;
    let levels = 1;
    let bodyBytes = this.leafBytes;
    const upper: string[] = [];
    // Each level has at most half the entries of the one below (pages hold two or more), so this
    // ends; a root of two entries stays even when they are larger than a page.
    while (entries.length > 2 && Buffer.byteLength(JSON.stringify(entries)) > this.indexPageBytes) {
      const above: BranchEntry[] = [];
      const builder = new PageBuilder(
        this.indexPageBytes,
        (page) => {
          upper.push(page, '\n');
          const length = Buffer.byteLength(page);
          const offset = bodyBytes;
          bodyBytes += length + 1;
          return { offset, length };
        },
        (entry) => above.push(entry),
      );
      for (const entry of entries) builder.add(entry[0], entry[1], JSON.stringify(entry));
      builder.flush();
      entries = above;
      levels++;
    }
    const header: IndexHeader = {
      format: PARTITION_INDEX_FORMAT,
      partitionBy: this.partitionBy,
      partitions: this.partitions,
      kinds: { ...this.kinds },
      outOfOrderRejections: this.outOfOrder,
      levels,
      root: entries,
    };
    const text = `${JSON.stringify(header)}\n`;
    // Cannot happen with pages at most half the head; checked so that a lookup never has to guess.
    if (Buffer.byteLength(text) > INDEX_HEAD_BYTES) throw new Error('partition index header is too large');
    this.finished = { header: text, upper };
  }

  /** `partitions.jsonl`, once closed. */
  async *dataChunks(): AsyncGenerator<string> {
    this.assertClosed();
    yield* this.data.read();
  }

  /** `partition-index.jsonl`, once closed: the header, the leaf pages, then the upper levels. */
  async *indexChunks(): AsyncGenerator<string> {
    const { header, upper } = this.assertClosed();
    yield header;
    yield* this.index.read();
    yield* upper;
  }

  private assertClosed(): { readonly header: string; readonly upper: readonly string[] } {
    if (!this.finished) throw new Error('the partition index is read before it was closed');
    return this.finished;
  }

  /** Reads the partition value of an output record into `this.value`; false when it has none. */
  private read(record: unknown): boolean {
    return readIdInto(partitionValueOf(record, this.path), this.value);
  }

  /** A match or leftover: its partition is the part's. */
  private addOwn(section: number, element: unknown, record: unknown): void {
    if (!this.read(record))
      throw new Error(`an output record has no partition value in "${this.partitionBy}"`);
    if (!this.hasCurrent) {
      if (this.hasLast && compareSlots(this.value, this.last) <= 0) {
        throw new Error('partitions must be added in ascending order, each once');
      }
      this.begin(this.value);
    } else if (compareSlots(this.value, this.current) !== 0) {
      throw new Error('a part must hold one partition');
    }
    this.append(section, element);
  }

  /** A part of rejections only: its partition is the highest readable one not written yet. */
  private chooseFromRejected(rejected: Iterable<{ readonly record: unknown }>): void {
    const highest = newIdSlot();
    let found = false;
    for (const { record } of rejected) {
      if (!this.read(record)) continue;
      if (this.hasLast && compareSlots(this.value, this.last) <= 0) continue;
      if (!found || compareSlots(this.value, highest) > 0) copySlot(this.value, highest);
      found = true;
    }
    if (found) this.begin(highest);
  }

  private begin(slot: IdSlot): void {
    copySlot(slot, this.current);
    this.hasCurrent = true;
    this.currentKey = JSON.stringify(keyOf(this.current));
  }

  private append(section: number, element: unknown): void {
    const text = JSON.stringify(element);
    const size = Buffer.byteLength(text) + 1;
    if (this.pageElements > 0 && this.pageBytes + size > this.dataPageBytes) this.writePage();
    if (this.pageElements === 0) this.pageBytes = this.frameBytes();
    (this.page[section] as string[]).push(text);
    this.pageBytes += size;
    this.pageElements++;
  }

  /** The bytes of a data line around its elements. */
  private frameBytes(): number {
    return Buffer.byteLength(this.line(SECTIONS.map(() => '')));
  }

  private line(elements: readonly string[]): string {
    const arrays = SECTIONS.map((name, i) => `"${name}":[${elements[i]}]`);
    return `{"partition":${this.currentKey},"page":${this.pageRanges.length + 1},${arrays.join(',')}}`;
  }

  private writePage(): void {
    const line = this.line(this.page.map((texts) => texts.join(',')));
    const length = Buffer.byteLength(line);
    this.data.append([line, '\n']);
    this.pageRanges.push([this.dataBytes, length]);
    this.dataBytes += length + 1;
    this.page = [[], [], [], []];
    this.pageBytes = 0;
    this.pageElements = 0;
  }

  private endPartition(): void {
    this.writePage();
    const pages = this.pageRanges.length;
    if (isIndexable(this.current)) {
      const key = keyOf(this.current);
      this.pageRanges.forEach(([offset, length], i) => {
        this.leaves.add(key, i + 1, `[${this.currentKey},${i + 1},${offset},${length},${pages}]`);
      });
      this.partitions++;
      this.kinds[kindName(this.current.kind)]++;
    }
    this.pageRanges = [];
    copySlot(this.current, this.last);
    this.hasLast = true;
    this.hasCurrent = false;
  }
}
