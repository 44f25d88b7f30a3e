import { ensureFloat64, ensureInt32, ensureUint8 } from './columns.js';
import { compareSlots, copySlot, ID_NUMBER, type IdKind, type IdSlot, newIdSlot } from './ids.js';
import type { FieldsSlot } from './normalise.js';

/**
 * The valid records of one source (accruals or payments) of the partition being collected, in
 * columnar form: id, date, month key and read position (which locates the record itself). The
 * arrays are scratch space reused by both sources, every partition and later runs, so they grow
 * to the largest partition and are allocated once. Appending is kept to plain stores; facts the
 * ordering needs (id range, date span, already sorted?) are gathered afterwards by {@link scan}
 * in one sequential pass.
 */
export class SideBatch {
  length = 0;
  /** Id kind per position (ID_NUMBER, ID_STRING, ID_OBJECT_ID). */
  kind = new Uint8Array(16);
  /** Numeric id per position (0 for other kinds). */
  num = new Float64Array(16);
  /** Epoch milliseconds per position. */
  date = new Float64Array(16);
  /** Month key per position (see months.ts). */
  month = new Int32Array(16);
  /** Read position per position: the record's index in its store, and its place in read order. */
  seq = new Int32Array(16);
  /** Positions and texts of string and ObjectId ids (rare in bulk, so kept apart), ascending. */
  otherPos: number[] = [];
  otherStr: string[] = [];
  /** Ids of records rejected for another reason: they still make duplicates. */
  rejectedIds: IdSlot[] = [];

  private readonly current = newIdSlot();
  private readonly previous = newIdSlot();

  /** Set by {@link scan}. */
  sorted = true;
  numericOnly = true;
  safeIntegers = true;
  minNum = 0;
  maxNum = 0;
  minDate = 0;
  maxDate = 0;

  reset(): void {
    this.length = 0;
    this.otherPos.length = 0;
    this.otherStr.length = 0;
    this.rejectedIds.length = 0;
  }

  /** Makes room for `extra` more records without reallocating while they are appended. */
  reserve(extra: number): void {
    const needed = this.length + extra;
    if (this.kind.length >= needed) return;
    this.kind = ensureUint8(this.kind, needed, this.length);
    this.num = ensureFloat64(this.num, needed, this.length);
    this.date = ensureFloat64(this.date, needed, this.length);
    this.month = ensureInt32(this.month, needed, this.length);
    this.seq = ensureInt32(this.seq, needed, this.length);
  }

  /** Appends a validated record (takes the slot, not the numbers, so no double is boxed per call). */
  add(fields: FieldsSlot, seq: number): void {
    const pos = this.length;
    if (pos === this.kind.length) this.reserve(1);
    const id = fields.id;
    this.kind[pos] = id.kind;
    this.date[pos] = fields.dateMs;
    this.month[pos] = fields.monthKey;
    this.seq[pos] = seq;
    if (id.kind === ID_NUMBER) {
      this.num[pos] = id.num;
    } else {
      this.num[pos] = 0;
      this.otherPos.push(pos);
      this.otherStr.push(id.str);
    }
    this.length = pos + 1;
  }

  addRejectedId(id: IdSlot): void {
    const copy = newIdSlot();
    copySlot(id, copy);
    this.rejectedIds.push(copy);
  }

  /** Computes id range, date span and whether the records arrived in `(date, id)` order. */
  scan(): void {
    const n = this.length;
    const { num, date, kind, otherPos, otherStr } = this;
    this.numericOnly = otherPos.length === 0;
    let safeIntegers = true;
    let minNum = Number.POSITIVE_INFINITY;
    let maxNum = Number.NEGATIVE_INFINITY;
    let minDate = Number.POSITIVE_INFINITY;
    let maxDate = Number.NEGATIVE_INFINITY;
    let sorted = true;
    let prevDate = Number.NEGATIVE_INFINITY;
    let prevNum = 0;
    let prevKind = ID_NUMBER as number;
    let other = 0;
    const current = this.current;
    const previous = this.previous;
    for (let pos = 0; pos < n; pos++) {
      const d = date[pos] as number;
      if (d < minDate) minDate = d;
      if (d > maxDate) maxDate = d;
      const k = kind[pos] as number;
      if (k === ID_NUMBER) {
        const v = num[pos] as number;
        if (v < minNum) minNum = v;
        if (v > maxNum) maxNum = v;
        if (safeIntegers && !Number.isSafeInteger(v)) safeIntegers = false;
        if (sorted && d === prevDate && prevKind === ID_NUMBER && v < prevNum) sorted = false;
        prevNum = v;
      } else if (sorted && d === prevDate) {
        // Mixed kinds on the same date: compare as MongoDB does.
        current.kind = k as IdKind;
        current.str = otherStr[other] as string;
        previous.kind = prevKind as IdKind;
        previous.num = prevNum;
        if (prevKind !== ID_NUMBER) previous.str = otherStr[other - 1] as string;
        if (compareSlots(current, previous) < 0) sorted = false;
      }
      if (k !== ID_NUMBER) other++;
      // Equal (date, id) pairs are duplicates that get removed, so ties keep the batch sorted.
      if (sorted && d < prevDate) sorted = false;
      if (sorted && d === prevDate && k < prevKind) sorted = false;
      prevDate = d;
      prevKind = k;
    }
    this.sorted = sorted;
    this.safeIntegers = safeIntegers;
    this.minNum = minNum;
    this.maxNum = maxNum;
    this.minDate = minDate;
    this.maxDate = maxDate;
  }
}
