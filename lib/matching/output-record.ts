import type { HeldRecords } from './columns.js';
import { formatIsoDate } from './dates.js';
import { newIdSlot, readIdInto, slotToJson } from './ids.js';
import { defineField, toJsonSafe } from './json-safe.js';
import { integerMonthKey, monthKeyToValue, NO_MONTH, readMonthKey, yearMonthTextKey } from './months.js';
import type { OutputRecord } from './types.js';

const DATE_CACHE_BITS = 12;
const DATE_CACHE_SIZE = 1 << DATE_CACHE_BITS;

/**
 * Builds the output form of stored records: every field carried through JSON-safe and in its
 * original position, with `id`, `date` and `month` replaced by their normalised values. They are
 * re-derived from the record (cheap) rather than kept in per-record columns for the outcome's
 * lifetime. Formatting is what costs: dates repeat a lot (many records per day), so ISO texts
 * are kept in a small direct-mapped cache keyed by the time, and month texts by month key.
 */
export class OutputRecordBuilder {
  private readonly dateKeys = new Float64Array(DATE_CACHE_SIZE).fill(Number.NaN);
  private readonly dateTexts: string[] = new Array<string>(DATE_CACHE_SIZE).fill('');
  private readonly monthValues = new Map<number, number | string>();
  private readonly id = newIdSlot();
  private touched = 0;

  /**
   * Reads the records at `indices[from..to)` in a tight loop before they are built.
   * Outputs walk records in `(date, id)` order, which is random order in memory; a loop this small
   * lets the CPU fetch many of them at once, where {@link build} alone would wait for each in turn
   * (several times faster on a million scattered records).
   */
  warm(records: HeldRecords, indices: Int32Array, from: number, to: number): void {
    let touched = this.touched;
    for (let i = from; i < to; i++) {
      const record = records.at(indices[i] as number);
      if (typeof record === 'object' && record !== null) {
        const id = (record as { id?: unknown }).id;
        if (typeof id === 'number') touched ^= id | 0;
      }
    }
    this.touched = touched;
  }

  /**
   * The output form of `record`, whose normalised date is `dateMs`; with `reason` (unmatched
   * payments, unpaid accruals) a last field `reason` is added, replacing the record's own field of
   * that name as `id`, `date` and `month` are replaced by their normalised values.
   */
  build(record: unknown, dateMs: number, reason?: string): OutputRecord {
    const fields = record as Record<string, unknown>;
    // The shape straight out of the spec: an object literal is far cheaper than a keyed build.
    if (hasOnlyMatchingFields(fields)) {
      const id = this.idOf(fields.id);
      const date = this.dateText(dateMs);
      const month = this.monthOf(fields.month);
      return reason === undefined ? { id, date, month } : { id, date, month, reason };
    }
    const keys = Object.keys(fields);
    const out: Record<string, unknown> = {};
    let wroteId = false;
    let wroteDate = false;
    let wroteMonth = false;
    for (const key of keys) {
      if (key === 'id') {
        wroteId = true;
        out.id = this.idOf(fields.id);
      } else if (key === 'date') {
        wroteDate = true;
        out.date = this.dateText(dateMs);
      } else if (key === 'month') {
        wroteMonth = true;
        out.month = this.monthOf(fields.month);
      } else if (key === 'reason' && reason !== undefined) {
        // replaced below
      } else {
        defineField(out, key, toJsonSafe(fields[key]));
      }
    }
    // Fields read through getters or prototypes are not own keys; the three matching fields are
    // part of every output record regardless.
    if (!wroteId) out.id = this.idOf(fields.id);
    if (!wroteDate) out.date = this.dateText(dateMs);
    if (!wroteMonth) out.month = this.monthOf(fields.month);
    if (reason !== undefined) out.reason = reason;
    return out as OutputRecord;
  }

  private idOf(value: unknown): unknown {
    if (typeof value === 'number' || typeof value === 'string') return value === 0 ? 0 : value;
    return readIdInto(value, this.id) ? slotToJson(this.id) : toJsonSafe(value);
  }

  private dateText(ms: number): string {
    // Fibonacci hashing of the day number spreads consecutive days; the time of day is mixed in.
    const day = Math.floor(ms / 86_400_000);
    const slot =
      (Math.imul(day, 0x9e3779b1) ^ Math.imul(ms - day * 86_400_000, 0x85ebca6b)) >>> (32 - DATE_CACHE_BITS);
    if (this.dateKeys[slot] === ms) return this.dateTexts[slot] as string;
    const text = formatIsoDate(ms);
    this.dateKeys[slot] = ms;
    this.dateTexts[slot] = text;
    return text;
  }

  private monthOf(value: unknown): number | string {
    // Most months are already in normalised form.
    if (typeof value === 'string' ? yearMonthTextKey(value) !== NO_MONTH : isIntegerMonth(value)) {
      return value as number | string;
    }
    const key = readMonthKey(value);
    let month = this.monthValues.get(key);
    if (month === undefined) {
      month = monthKeyToValue(key);
      this.monthValues.set(key, month);
    }
    return month;
  }
}

/**
 * Whether the enumerable keys of `fields` are `id`, `date` and `month`, in that order, and no
 * others. `for…in` needs no key array (`Object.keys` allocates one per record); an inherited key
 * it lists does no harm, since the full build writes the three fields whether own or inherited.
 */
function hasOnlyMatchingFields(fields: object): boolean {
  let count = 0;
  for (const key in fields) {
    if (key !== (count === 0 ? 'id' : count === 1 ? 'date' : count === 2 ? 'month' : '')) return false;
    count++;
  }
  return count === 3;
}

function isIntegerMonth(value: unknown): value is number {
  return typeof value === 'number' && integerMonthKey(value) !== NO_MONTH;
}
