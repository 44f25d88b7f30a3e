import { ensureFloat64, ensureInt32, ensureUint8 } from './columns.js';
import { OrderScratch } from './order.js';
import { SideBatch } from './side-batch.js';
import type { SweepInput } from './sweep.js';

/** Hands out indices into the run's table of distinct dates (see OutcomeSink). */
export interface DateTable {
  dateRank(date: number, previous: number): number;
}

const LINEAR_MONTHS = 16;

/**
 * Dense numbering of the month keys of one partition. A partition (one personal account) usually
 * has a handful of months, so a linear scan beats a Map, which would also allocate a new table on
 * every `clear()`; a Map takes over past {@link LINEAR_MONTHS} distinct months.
 */
export class MonthIndex {
  private readonly keys = new Int32Array(LINEAR_MONTHS);
  private count = 0;
  private map: Map<number, number> | undefined;

  get size(): number {
    return this.count;
  }

  reset(): void {
    this.count = 0;
    this.map = undefined;
  }

  /** Dense index of `key`, or -1. */
  indexOf(key: number): number {
    if (this.map !== undefined) return this.map.get(key) ?? -1;
    for (let i = 0; i < this.count; i++) if (this.keys[i] === key) return i;
    return -1;
  }

  /** Dense index of `key`, numbering it if it is new. */
  add(key: number): number {
    const known = this.indexOf(key);
    if (known >= 0) return known;
    const index = this.count++;
    if (this.map !== undefined) {
      this.map.set(key, index);
    } else if (index < LINEAR_MONTHS) {
      this.keys[index] = key;
    } else {
      this.map = new Map();
      for (let i = 0; i < LINEAR_MONTHS; i++) this.map.set(this.keys[i] as number, i);
      this.map.set(key, index);
    }
    return index;
  }
}

/** Sorted, month-grouped columns of one partition, as the sweeps read them. */
export class SweepScratch implements SweepInput {
  accrualCount = 0;
  /** Read position (record index) of each accrual in `(date, id)` order. */
  accrualOrder = new Int32Array(16);
  accrualDate = new Float64Array(16);
  /** Index of each accrual's date in the run's table of distinct dates (for the outputs). */
  accrualDateRank = new Int32Array(16);
  accrualMonth = new Int32Array(16);
  bucket = new Int32Array(16);
  monthStart = new Int32Array(17);
  monthCount = 0;
  paid = new Uint8Array(16);
  head = new Int32Array(16);
  tail = new Int32Array(16);
  paymentCount = 0;
  /** Read position (record index) of each payment in `(date, id)` order. */
  paymentOrder = new Int32Array(16);
  paymentDate = new Float64Array(16);
  paymentDateRank = new Int32Array(16);
  paymentMonth = new Int32Array(16);
  pending = new Int32Array(16);
  /** Month key → dense month index of the partition's accruals. */
  readonly months = new MonthIndex();

  sizeAccruals(count: number): void {
    this.accrualOrder = ensureInt32(this.accrualOrder, count);
    this.accrualDate = ensureFloat64(this.accrualDate, count);
    this.accrualDateRank = ensureInt32(this.accrualDateRank, count);
    this.accrualMonth = ensureInt32(this.accrualMonth, count);
    this.bucket = ensureInt32(this.bucket, count);
    this.paid = ensureUint8(this.paid, count);
  }

  sizeMonths(count: number): void {
    this.monthStart = ensureInt32(this.monthStart, count + 1);
    this.head = ensureInt32(this.head, count);
    this.tail = ensureInt32(this.tail, count);
  }

  sizePayments(count: number): void {
    this.paymentOrder = ensureInt32(this.paymentOrder, count);
    this.paymentDate = ensureFloat64(this.paymentDate, count);
    this.paymentDateRank = ensureInt32(this.paymentDateRank, count);
    this.paymentMonth = ensureInt32(this.paymentMonth, count);
    this.pending = ensureInt32(this.pending, count);
  }
  /**
   * Loads a partition's accruals: `accrualOrder[0..count)` holds their batch positions in
   * `(date, id)` order and becomes their read positions; dates, date ranks and dense month
   * indices are gathered, and accrual positions are grouped by month into `bucket`.
   */
  loadAccruals(batch: SideBatch, count: number, dates: DateTable): void {
    this.accrualCount = count;
    const { accrualOrder, accrualDate, accrualDateRank, accrualMonth, months } = this;
    const { date, month, seq } = batch;
    months.reset();
    let lastKey = -1;
    let lastMonth = -1;
    let dateRank = -1;
    for (let a = 0; a < count; a++) {
      const pos = accrualOrder[a] as number;
      // From here on an accrual is known by its read position, which indexes the record store.
      accrualOrder[a] = seq[pos] as number;
      const d = date[pos] as number;
      accrualDate[a] = d;
      dateRank = dates.dateRank(d, dateRank);
      accrualDateRank[a] = dateRank;
      const key = month[pos] as number;
      if (key !== lastKey) {
        lastKey = key;
        lastMonth = months.add(key);
      }
      accrualMonth[a] = lastMonth;
    }
    const monthCount = months.size;
    this.monthCount = monthCount;
    this.sizeMonths(monthCount);
    const { monthStart, bucket, tail: cursor } = this;
    monthStart.fill(0, 0, monthCount + 1);
    for (let a = 0; a < count; a++) {
      const next = (accrualMonth[a] as number) + 1;
      monthStart[next] = (monthStart[next] as number) + 1;
    }
    for (let m = 0; m < monthCount; m++)
      monthStart[m + 1] = (monthStart[m + 1] as number) + (monthStart[m] as number);
    // `tail` serves as the fill cursor here; the sweeps reset it from `monthStart`.
    cursor.set(monthStart.subarray(0, monthCount));
    for (let a = 0; a < count; a++) {
      const m = accrualMonth[a] as number;
      const at = cursor[m] as number;
      bucket[at] = a;
      cursor[m] = at + 1;
    }
    this.paid.fill(0, 0, count);
  }

  /** Loads a partition's payments like {@link loadAccruals}, with the accrual month index of each. */
  loadPayments(batch: SideBatch, count: number, dates: DateTable): void {
    this.paymentCount = count;
    const { paymentOrder, paymentDate, paymentDateRank, paymentMonth, months } = this;
    const { date, month, seq } = batch;
    let lastKey = -1;
    let lastMonth = -1;
    let dateRank = -1;
    for (let p = 0; p < count; p++) {
      const pos = paymentOrder[p] as number;
      paymentOrder[p] = seq[pos] as number;
      const d = date[pos] as number;
      paymentDate[p] = d;
      dateRank = dates.dateRank(d, dateRank);
      paymentDateRank[p] = dateRank;
      const key = month[pos] as number;
      if (key !== lastKey) {
        lastKey = key;
        lastMonth = months.indexOf(key);
      }
      paymentMonth[p] = lastMonth;
    }
  }
}

/**
 * All scratch space of one run. Allocating ArrayBuffers is cheap, but V8 answers every ~64 MiB
 * of new external memory with a full mark-compact of the whole heap — and the caller's heap
 * holds the input records, so on a million-record run each of those GCs costs more than the
 * matching itself. Scratch is therefore kept for the next run instead of being reallocated.
 */
export class MatchScratch {
  /** The side of the partition being collected (the whole input without a partition field). */
  readonly batch = new SideBatch();
  readonly order = new OrderScratch();
  readonly sweep = new SweepScratch();
}

let idle: MatchScratch | undefined;

/** Scratch for a new run: the idle one if there is one (runs may overlap when streaming). */
export function acquireScratch(): MatchScratch {
  const scratch = idle ?? new MatchScratch();
  idle = undefined;
  return scratch;
}

/** Hands scratch back for the next run once no outcome refers to it. */
export function releaseScratch(scratch: MatchScratch): void {
  scratch.batch.reset();
  idle = scratch;
}
