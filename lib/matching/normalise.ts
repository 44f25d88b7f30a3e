import { describeValue } from './bson-values.js';
import { readDate } from './dates.js';
import { ID_NUMBER, type IdSlot, newIdSlot, type RecordId, readIdInto, slotToRecordId } from './ids.js';
import { integerMonthKey, monthKeyToValue, NO_MONTH, readMonthKey, yearMonthTextKey } from './months.js';

/** What the ingest loop learns about one record's `id`, `date` and `month`, without allocating. */
export interface FieldsSlot {
  readonly id: IdSlot;
  /** The id was readable (true even when the date or month then failed). */
  idValid: boolean;
  dateMs: number;
  monthKey: number;
}

export function newFieldsSlot(): FieldsSlot {
  return { id: newIdSlot(), idValid: false, dateMs: 0, monthKey: NO_MONTH };
}

/** Records are documents: non-null, non-array objects. */
export function isRecordObject(record: unknown): record is object {
  return typeof record === 'object' && record !== null && !Array.isArray(record);
}

export function notAnObjectReason(record: unknown): string {
  return `not an object: ${describeValue(record)}`;
}

/**
 * Reads `id`, `date` and `month` of a record into `out`. Returns undefined when all three are
 * valid, otherwise the rejection reason for the first failing field (checked in that order).
 */
export function readRecordFields(record: unknown, out: FieldsSlot): string | undefined {
  if (typeof record === 'object' && record !== null) {
    const fields = record as { id?: unknown; date?: unknown; month?: unknown };
    const id = fields.id;
    const date = fields.date;
    // Fast path for what MongoDB documents usually hold (a number id, a Date, an integer or
    // `YYYY-MM` month), kept small enough to be inlined into the ingest loop.
    if (typeof id === 'number' && id - id === 0 && date instanceof Date && !Array.isArray(record)) {
      const month = fields.month;
      const ms = date.getTime();
      const key =
        typeof month === 'string'
          ? yearMonthTextKey(month)
          : typeof month === 'number'
            ? integerMonthKey(month)
            : NO_MONTH;
      if (key !== NO_MONTH && !Number.isNaN(ms)) {
        const slot = out.id;
        slot.kind = ID_NUMBER;
        slot.num = id === 0 ? 0 : id;
        out.idValid = true;
        out.dateMs = ms;
        out.monthKey = key;
        return undefined;
      }
    }
  }
  return readRecordFieldsInFull(record, out);
}

/** Every accepted form, and the reason when a field is unusable. */
function readRecordFieldsInFull(record: unknown, out: FieldsSlot): string | undefined {
  out.idValid = false;
  if (!isRecordObject(record)) return notAnObjectReason(record);
  const fields = record as { id?: unknown; date?: unknown; month?: unknown };
  const id = fields.id;
  if (id === undefined) return 'missing field "id"';
  if (!readIdInto(id, out.id)) return `invalid id ${describeValue(id)}`;
  out.idValid = true;
  const date = fields.date;
  if (date === undefined) return 'missing field "date"';
  const ms = readDate(date);
  if (Number.isNaN(ms)) return `unparseable date ${describeValue(date)}`;
  out.dateMs = ms;
  const month = fields.month;
  if (month === undefined) return 'missing field "month"';
  const key = readMonthKey(month);
  if (key === NO_MONTH) return `invalid month ${describeValue(month)}`;
  out.monthKey = key;
  return undefined;
}

/** A record's matching fields in normalised form. */
export interface NormalisedFields {
  readonly id: RecordId;
  /** Epoch milliseconds. */
  readonly dateMs: number;
  /** `YYYY-MM`, or the bare integer 1–12 when the input gave one. */
  readonly month: number | string;
}

export type NormaliseResult =
  | ({ readonly ok: true } & NormalisedFields)
  | { readonly ok: false; readonly reason: string };

/**
 * Normalises the `id`, `date` and `month` of one record exactly as the matcher does, or says why
 * the matcher would reject it (duplicates aside, which need the whole collection).
 *
 * @example
 * normaliseRecord({ id: 7, date: '2024-01-05', month: { $date: '2024-01-31T23:00:00-02:00' } })
 * // → { ok: true, id: 7, dateMs: 1704412800000, month: '2024-02' }
 */
export function normaliseRecord(record: unknown): NormaliseResult {
  const slot = newFieldsSlot();
  const reason = readRecordFields(record, slot);
  if (reason !== undefined) return { ok: false, reason };
  return {
    ok: true,
    id: slotToRecordId(slot.id),
    dateMs: slot.dateMs,
    month: monthKeyToValue(slot.monthKey),
  };
}
