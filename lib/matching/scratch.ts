import { ensureFloat64, ensureInt32, ensureUint8 } from './columns.js';
import type { LimitationCutoff } from './limitation.js';
import { OrderScratch } from './order.js';
import { SideBatch } from './side-batch.js';
import type { SweepInput } from './sweep.js';

/** Hands out indices into the run's table of distinct dates (see OutcomeSink). */
export interface DateTable {
  dateRank(date: number, previous: number): number;
}

/**
 * Dense numbering of the month keys of one partition. Dates and months are independent, so in
 * `(date, id)` order the month changes from one record to the next and a lookup happens per
 * record: an open-addressing table in typed arrays costs a multiply and a compare or two (a Map
 * costs a hash lookup, and a new table on every `clear()`). `reset` clears only the slots in use,
 * so the many tiny partitions of a partitioned run stay cheap.
 */
export class MonthIndex {
  private bits = 5;
  /** Month key per slot; 0 (NO_MONTH, never added) marks a free slot. */
  private keys = new Int32Array(1 << this.bits);
  private indices = new Int32Array(1 << this.bits);
  /** The slot of each dense index. */
  private readonly slots: number[] = [];

  get size(): number {
    return this.slots.length;
  }

  reset(): void {
    for (const slot of this.slots) this.keys[slot] = 0;
    this.slots.length = 0;
  }

  /** Dense index of `key`, or -1. */
  indexOf(key: number): number {
    const slot = this.slotOf(key);
    return this.keys[slot] === key ? (this.indices[slot] as number) : -1;
  }

  /** Dense index of `key`, numbering it if it is new. */
  add(key: number): number {
    const slot = this.slotOf(key);
    if (this.keys[slot] === key) return this.indices[slot] as number;
    const index = this.slots.length;
    this.keys[slot] = key;
    this.indices[slot] = index;
    this.slots.push(slot);
    if (2 * this.slots.length > this.keys.length) this.grow();
    return index;
  }

  /** The slot holding `key`, or the free slot where it goes. */
  private slotOf(key: number): number {
    const keys = this.keys;
    const mask = keys.length - 1;
    // Fibonacci hashing spreads consecutive month keys over the table.
    let slot = Math.imul(key, 0x9e3779b1) >>> (32 - this.bits);
    for (;;) {
      const held = keys[slot] as number;
      if (held === key || held === 0) return slot;
      slot = (slot + 1) & mask;
    }
  }

  private grow(): void {
    const { keys, indices, slots } = this;
    this.bits++;
    this.keys = new Int32Array(1 << this.bits);
    this.indices = new Int32Array(1 << this.bits);
    for (let index = 0; index < slots.length; index++) {
      const key = keys[slots[index] as number] as number;
      const slot = this.slotOf(key);
      this.keys[slot] = key;
      this.indices[slot] = indices[slots[index] as number] as number;
      slots[index] = slot;
    }
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
  lastPaymentDate = new Float64Array(16);
  cutoff: LimitationCutoff | undefined;
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
    this.lastPaymentDate = ensureFloat64(this.lastPaymentDate, count);
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
    this.lastPaymentDate.fill(Number.NEGATIVE_INFINITY, 0, monthCount);
  }

  /** Loads a partition's payments like {@link loadAccruals}, with the accrual month index of each. */
  loadPayments(batch: SideBatch, count: number, dates: DateTable): void {
    this.paymentCount = count;
    const { paymentOrder, paymentDate, paymentDateRank, paymentMonth, lastPaymentDate, months } = this;
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
      // Payments come in date order, so the last one written per month is its latest.
      if (lastMonth >= 0) lastPaymentDate[lastMonth] = d;
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
