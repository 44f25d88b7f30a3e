import { wrappedNumber } from './bson-values.js';
import { readDate, utcYearMonth } from './dates.js';

/**
 * Billing months are encoded as positive int32 keys so that "same month" is one integer compare:
 * bare integer months 1–12 keep their value (they equal only each other, never a `YYYY-MM`), and
 * calendar months `YYYY-MM` map to {@link CALENDAR_BASE} and above. 0 means "not a month".
 */
export const NO_MONTH = 0;
const CALENDAR_BASE = 16;
/** Shifts the most negative year a JS date can hold (-271821) to a non-negative number. */
const YEAR_SHIFT = 300_000;

function calendarKey(year: number, month: number): number {
  return CALENDAR_BASE + (year + YEAR_SHIFT) * 12 + (month - 1);
}

/** Key of an integer month 1–12, or NO_MONTH. */
export function integerMonthKey(n: number): number {
  return Number.isInteger(n) && n >= 1 && n <= 12 ? n : NO_MONTH;
}

/** Key of a strict `YYYY-MM` text, or NO_MONTH. Branch-light: it runs once per record. */
export function yearMonthTextKey(s: string): number {
  if (s.length !== 7 || s.charCodeAt(4) !== 45) return NO_MONTH;
  const y0 = s.charCodeAt(0) - 48;
  const y1 = s.charCodeAt(1) - 48;
  const y2 = s.charCodeAt(2) - 48;
  const y3 = s.charCodeAt(3) - 48;
  const m0 = s.charCodeAt(5) - 48;
  const m1 = s.charCodeAt(6) - 48;
  // A character below '0' makes its difference negative, which `>>> 0` turns into a huge value.
  if (y0 >>> 0 > 9 || y1 >>> 0 > 9 || y2 >>> 0 > 9 || y3 >>> 0 > 9 || m0 >>> 0 > 9 || m1 >>> 0 > 9) {
    return NO_MONTH;
  }
  const month = m0 * 10 + m1;
  if (month < 1 || month > 12) return NO_MONTH;
  return calendarKey(y0 * 1000 + y1 * 100 + y2 * 10 + y3, month);
}

/** Key of the UTC calendar month containing an epoch-millisecond time, or NO_MONTH for NaN. */
export function monthKeyOfTime(ms: number): number {
  if (Number.isNaN(ms)) return NO_MONTH;
  const packed = utcYearMonth(ms);
  const year = Math.floor(packed / 16);
  return calendarKey(year, packed - year * 16);
}

/**
 * Month key of a `month` value: an integer 1–12 (also as a BSON Int32/Double/Long), `YYYY-MM`
 * text, or a date in any form {@link readDate} accepts (its UTC calendar month). NO_MONTH for
 * anything else (0, 13, 5.5, "2024-13", "2024-5", "5", booleans, …).
 */
export function readMonthKey(value: unknown): number {
  if (typeof value === 'number') return integerMonthKey(value);
  if (typeof value === 'string') {
    const key = yearMonthTextKey(value);
    return key !== NO_MONTH ? key : monthKeyOfTime(readDate(value));
  }
  if (value instanceof Date) {
    const ms = value.getTime();
    return Number.isNaN(ms) ? NO_MONTH : calendarKey(value.getUTCFullYear(), value.getUTCMonth() + 1);
  }
  if (typeof value !== 'object' || value === null) return NO_MONTH;
  if ((value as { $date?: unknown }).$date !== undefined) return monthKeyOfTime(readDate(value));
  return integerMonthKey(wrappedNumber(value));
}

/** Whether a key came from a bare integer month. */
export function isIntegerMonthKey(key: number): boolean {
  return key >= 1 && key <= 12;
}

/**
 * The normalised month of a key: the bare integer 1–12, or `YYYY-MM` (years outside 0000–9999
 * written with a sign and six digits, as ISO 8601 extended years are).
 */
export function monthKeyToValue(key: number): number | string {
  if (isIntegerMonthKey(key)) return key;
  const offset = key - CALENDAR_BASE;
  const yearIndex = Math.floor(offset / 12);
  const year = yearIndex - YEAR_SHIFT;
  const month = offset - yearIndex * 12 + 1;
  const yearText =
    year >= 0 && year <= 9999
      ? String(year).padStart(4, '0')
      : `${year < 0 ? '-' : '+'}${String(Math.abs(year)).padStart(6, '0')}`;
  return `${yearText}-${month < 10 ? '0' : ''}${month}`;
}
