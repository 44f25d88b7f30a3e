import { ensureFloat64, ensureInt32 } from './columns.js';
import { compareCodePoints, HIGH_CODE_UNIT, ID_NUMBER, ID_STRING } from './ids.js';
import type { SideBatch } from './side-batch.js';

/**
 * Orders one side of a partition by `(date, id)` and finds duplicate ids, in O(n log n) with
 * native typed-array sorts only:
 *
 * 1. Every id gets an integer key that preserves BSON order: `id - min` when all ids are integers
 *    in a range comparable to their count (the common case: a direct table, no sort), otherwise
 *    its rank among the distinct ids (one sort per id kind). Keys held by several records are
 *    duplicates.
 * 2. Records that already arrived in `(date, id)` order (checked after reading them) need nothing
 *    more. When dates repeat a lot (at most one distinct date per four records, typical of
 *    billing data), a stable counting sort by date rank over the records in id-key order does it
 *    in linear time. Otherwise each surviving record gets a 64-bit sort key
 *    `date offset << bits | id key` (date ranks instead of offsets when the date span is too
 *    wide), written as two uint32 halves under a BigUint64Array and sorted natively; id keys are
 *    unique, so the low bits lead back to the record.
 */

/** Scratch arrays for ordering, reused across sides, partitions and runs. */
export class OrderScratch {
  /** Id key → batch position (-1 free, -2 duplicated key in the integer-table mode). */
  table = new Int32Array(16);
  /** Rank mode only: id key per position and number of records per key. */
  keyOf = new Int32Array(16);
  counts = new Int32Array(16);
  values = new Float64Array(16);
  keyWords = new Uint32Array(32);
  /** Few-dates mode: open-addressing table of distinct dates, their ranks, each position's slot. */
  dateSlots = new Float64Array(16);
  dateRanks = new Int32Array(16);
  slotOf = new Int32Array(16);
  dateCounts = new Int32Array(16);
  /** How ids were keyed for the last batch: `id - min` through `table`, or ranks. */
  integerTable = true;
  minId = 0;
  duplicates = 0;

  /** Whether batch position `pos` holds an id shared with another record (valid after ordering). */
  isDuplicate(batch: SideBatch, pos: number): boolean {
    if (this.integerTable) return this.table[(batch.num[pos] as number) - this.minId] === -2;
    return (this.counts[this.keyOf[pos] as number] as number) > 1;
  }
}

const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;
const LO = LITTLE_ENDIAN ? 0 : 1;
const HI = 1 - LO;
const TWO_POW_32 = 4_294_967_296;
/** The direct table may hold at most this many unused slots beyond one per record. */
const TABLE_SLACK = 1024;

function bitLength(x: number): number {
  if (x < TWO_POW_32) return 32 - Math.clz32(x);
  return 32 + bitLength(Math.floor(x / TWO_POW_32));
}

/** Index of the first element of sorted `values[0..length)` that is not below `v`. */
function lowerBound(values: Float64Array, length: number, v: number): number {
  let lo = 0;
  let hi = length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((values[mid] as number) < v) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Sorts `values[0..length)` and removes repeats in place; returns the distinct count. */
function sortDistinct(values: Float64Array, length: number): number {
  values.subarray(0, length).sort();
  let distinct = 0;
  for (let i = 0; i < length; i++) {
    const v = values[i] as number;
    if (distinct === 0 || v !== values[distinct - 1]) values[distinct++] = v;
  }
  return distinct;
}

/**
 * Orders `batch`: writes the positions of the records whose id is unique, in `(date, id)` order,
 * to `order` (room for `batch.length`) and returns their count. Duplicated positions are left
 * out; `scratch.duplicates` counts them and `scratch.isDuplicate` tells them apart.
 */
export function orderSide(batch: SideBatch, scratch: OrderScratch, order: Int32Array): number {
  const n = batch.length;
  scratch.duplicates = 0;
  if (n === 0) return 0;
  batch.scan();
  const range = batch.maxNum - batch.minNum + 1;
  const keyCount =
    batch.numericOnly && batch.safeIntegers && range <= 2 * n + TABLE_SLACK
      ? integerIdKeys(batch, scratch, range)
      : rankIdKeys(batch, scratch);
  if (batch.sorted) {
    let count = 0;
    for (let pos = 0; pos < n; pos++) if (!scratch.isDuplicate(batch, pos)) order[count++] = pos;
    return count;
  }
  const count = sortByFewDates(batch, scratch, order, keyCount);
  return count >= 0 ? count : sortByDateAndId(batch, scratch, order, bitLength(keyCount - 1));
}

/** At most one distinct date per this many records for the counting sort to be used. */
const RECORDS_PER_DATE = 4;
const MS_PER_DAY = 86_400_000;

/**
 * Orders by a stable counting sort on date rank, over the records taken in id-key order (the key
 * tables already list them that way): linear apart from sorting the distinct dates. Worth it when
 * dates repeat a lot, as billing dates do; returns -1 (nothing written) when there are more than
 * one distinct date per {@link RECORDS_PER_DATE} records.
 */
function sortByFewDates(
  batch: SideBatch,
  scratch: OrderScratch,
  order: Int32Array,
  keyCount: number,
): number {
  const n = batch.length;
  const limit = Math.floor(n / RECORDS_PER_DATE);
  if (limit < 2) return -1;
  const bits = Math.max(4, bitLength(2 * limit));
  const capacity = 1 << bits;
  scratch.dateSlots = ensureFloat64(scratch.dateSlots, capacity);
  scratch.slotOf = ensureInt32(scratch.slotOf, n);
  const { dateSlots, slotOf } = scratch;
  dateSlots.fill(Number.NaN, 0, capacity);
  const date = batch.date;
  let distinct = 0;
  let previous = Number.NaN;
  let previousSlot = 0;
  for (let pos = 0; pos < n; pos++) {
    const d = date[pos] as number;
    if (d !== previous) {
      previous = d;
      previousSlot = dateSlot(dateSlots, d, bits);
      if (Number.isNaN(dateSlots[previousSlot] as number)) {
        if (++distinct > limit) return -1;
        dateSlots[previousSlot] = d;
      }
    }
    slotOf[pos] = previousSlot;
  }

  scratch.values = ensureFloat64(scratch.values, distinct);
  scratch.dateRanks = ensureInt32(scratch.dateRanks, capacity);
  scratch.dateCounts = ensureInt32(scratch.dateCounts, distinct + 1);
  const { values, dateRanks, dateCounts } = scratch;
  let j = 0;
  for (let slot = 0; slot < capacity; slot++) {
    const d = dateSlots[slot] as number;
    if (!Number.isNaN(d)) values[j++] = d;
  }
  values.subarray(0, distinct).sort();
  for (let rank = 0; rank < distinct; rank++)
    dateRanks[dateSlot(dateSlots, values[rank] as number, bits)] = rank;

  const { table, counts } = scratch;
  const integerTable = scratch.integerTable;
  dateCounts.fill(0, 0, distinct + 1);
  let survivors = 0;
  for (let key = 0; key < keyCount; key++) {
    const pos = table[key] as number;
    if (integerTable ? pos < 0 : (counts[key] as number) > 1) continue;
    const next = (dateRanks[slotOf[pos] as number] as number) + 1;
    dateCounts[next] = (dateCounts[next] as number) + 1;
    survivors++;
  }
  for (let rank = 0; rank < distinct; rank++) {
    dateCounts[rank + 1] = (dateCounts[rank + 1] as number) + (dateCounts[rank] as number);
  }
  for (let key = 0; key < keyCount; key++) {
    const pos = table[key] as number;
    if (integerTable ? pos < 0 : (counts[key] as number) > 1) continue;
    const rank = dateRanks[slotOf[pos] as number] as number;
    const at = dateCounts[rank] as number;
    order[at] = pos;
    dateCounts[rank] = at + 1;
  }
  return survivors;
}

/** Hash slot of date `d` in the open-addressing table (`2^bits` slots). */
function dateSlot(slots: Float64Array, d: number, bits: number): number {
  const day = Math.floor(d / MS_PER_DAY);
  // Fibonacci hashing of the day number spreads consecutive days; the time of day is mixed in.
  let slot = (Math.imul(day, 0x9e3779b1) ^ Math.imul(d - day * MS_PER_DAY, 0x85ebca6b)) >>> (32 - bits);
  const mask = (1 << bits) - 1;
  for (;;) {
    const held = slots[slot] as number;
    if (held === d || Number.isNaN(held)) return slot;
    slot = (slot + 1) & mask;
  }
}

/** Keys `id - min` with a direct position table: no sort needed to find duplicates. */
function integerIdKeys(batch: SideBatch, scratch: OrderScratch, range: number): number {
  const n = batch.length;
  const min = batch.minNum;
  const num = batch.num;
  scratch.table = ensureInt32(scratch.table, range);
  const table = scratch.table;
  table.fill(-1, 0, range);
  scratch.integerTable = true;
  scratch.minId = min;
  let duplicates = 0;
  for (let pos = 0; pos < n; pos++) {
    const key = (num[pos] as number) - min;
    const seen = table[key] as number;
    if (seen === -1) {
      table[key] = pos;
    } else {
      duplicates += seen >= 0 ? 2 : 1;
      table[key] = -2;
    }
  }
  for (const id of batch.rejectedIds) {
    if (id.kind !== ID_NUMBER) continue;
    const key = id.num - min;
    if (key >= 0 && key < range && Number.isInteger(key) && (table[key] as number) >= 0) {
      duplicates++;
      table[key] = -2;
    }
  }
  scratch.duplicates = duplicates;
  return range;
}

/** Keys = rank among the distinct ids in BSON order (numbers, strings, ObjectIds). */
function rankIdKeys(batch: SideBatch, scratch: OrderScratch): number {
  const n = batch.length;
  const { kind, num, otherPos, otherStr } = batch;
  scratch.integerTable = false;
  scratch.keyOf = ensureInt32(scratch.keyOf, n);
  const keyOf = scratch.keyOf;
  scratch.values = ensureFloat64(scratch.values, n);
  const values = scratch.values;
  let numbers = 0;
  for (let pos = 0; pos < n; pos++) if (kind[pos] === ID_NUMBER) values[numbers++] = num[pos] as number;
  const distinctNumbers = sortDistinct(values, numbers);
  for (let pos = 0; pos < n; pos++) {
    if (kind[pos] === ID_NUMBER) keyOf[pos] = lowerBound(values, distinctNumbers, num[pos] as number);
  }

  // Partitions are often tiny and all-numeric: build the text-id maps only when needed.
  const strings: Map<string, number> = otherPos.length > 0 ? new Map() : EMPTY_MAP;
  const objectIds: Map<string, number> = otherPos.length > 0 ? new Map() : EMPTY_MAP;
  let rank = distinctNumbers;
  if (otherPos.length > 0) {
    for (let j = 0; j < otherPos.length; j++) {
      (kind[otherPos[j] as number] === ID_STRING ? strings : objectIds).set(otherStr[j] as string, 0);
    }
    const stringKeys = [...strings.keys()];
    stringKeys.sort(stringKeys.some((s) => HIGH_CODE_UNIT.test(s)) ? compareCodePoints : compareUtf16);
    for (const s of stringKeys) strings.set(s, rank++);
    // Fixed-length lower-case hex sorts like the 12 bytes it encodes.
    const objectIdKeys = [...objectIds.keys()].sort(compareUtf16);
    for (const hex of objectIdKeys) objectIds.set(hex, rank++);
    for (let j = 0; j < otherPos.length; j++) {
      const pos = otherPos[j] as number;
      keyOf[pos] = (kind[pos] === ID_STRING ? strings : objectIds).get(otherStr[j] as string) ?? 0;
    }
  }

  const keyCount = rank;
  scratch.counts = ensureInt32(scratch.counts, keyCount);
  const counts = scratch.counts;
  scratch.table = ensureInt32(scratch.table, keyCount);
  const table = scratch.table;
  counts.fill(0, 0, keyCount);
  for (let pos = 0; pos < n; pos++) {
    const key = keyOf[pos] as number;
    counts[key] = (counts[key] as number) + 1;
    table[key] = pos;
  }
  for (const id of batch.rejectedIds) {
    let key = -1;
    if (id.kind === ID_NUMBER) {
      const at = lowerBound(values, distinctNumbers, id.num);
      if (at < distinctNumbers && values[at] === id.num) key = at;
    } else {
      key = (id.kind === ID_STRING ? strings : objectIds).get(id.str) ?? -1;
    }
    if (key >= 0) counts[key] = (counts[key] as number) + 1;
  }
  let duplicates = 0;
  for (let pos = 0; pos < n; pos++) if ((counts[keyOf[pos] as number] as number) > 1) duplicates++;
  scratch.duplicates = duplicates;
  return keyCount;
}

/** Shared and never written to (only read when there are no text ids). */
const EMPTY_MAP = new Map<string, number>();

function compareUtf16(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function sortByDateAndId(batch: SideBatch, scratch: OrderScratch, order: Int32Array, idBits: number): number {
  const n = batch.length;
  const { date, num } = batch;
  const { table, keyOf, counts } = scratch;
  const integerTable = scratch.integerTable;
  const minId = scratch.minId;
  const survivors = n - scratch.duplicates;
  scratch.keyWords = ensureUint32Pairs(scratch.keyWords, survivors);
  const words = scratch.keyWords;
  const minDate = batch.minDate;
  const useOffsets = bitLength(batch.maxDate - minDate) + idBits <= 64;
  let distinctDates = 0;
  if (!useOffsets) {
    scratch.values = ensureFloat64(scratch.values, n);
    const values = scratch.values;
    values.set(date.subarray(0, n));
    distinctDates = sortDistinct(values, n);
  }
  const values = scratch.values;
  // Powers of two: scaling by them is exact, and cheaper than `%` on doubles.
  const lowSpan = 2 ** (32 - idBits);
  const inverseLowSpan = 1 / lowSpan;
  const idScale = 2 ** idBits;
  let k = 0;
  for (let pos = 0; pos < n; pos++) {
    let key: number;
    if (integerTable) {
      key = (num[pos] as number) - minId;
      if (table[key] === -2) continue;
    } else {
      key = keyOf[pos] as number;
      if ((counts[key] as number) > 1) continue;
    }
    const d = date[pos] as number;
    const dateKey = useOffsets ? d - minDate : lowerBound(values, distinctDates, d);
    const high = Math.floor(dateKey * inverseLowSpan);
    words[2 * k + LO] = (dateKey - high * lowSpan) * idScale + key;
    words[2 * k + HI] = high;
    k++;
  }
  new BigUint64Array(words.buffer, 0, survivors).sort();
  const mask = idBits === 0 ? 0 : 0xffffffff >>> (32 - idBits);
  for (let i = 0; i < survivors; i++) order[i] = table[(words[2 * i + LO] as number) & mask] as number;
  return survivors;
}

function ensureUint32Pairs(words: Uint32Array<ArrayBuffer>, pairs: number): Uint32Array<ArrayBuffer> {
  if (words.length >= 2 * pairs) return words;
  let capacity = words.length;
  while (capacity < 2 * pairs) capacity *= 2;
  return new Uint32Array(capacity);
}
