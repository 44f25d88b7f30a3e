import { bsonTypeOf } from './bson-values.js';

/**
 * Dates are kept as epoch milliseconds (a BSON date's own resolution). ISO 8601 text is parsed by
 * hand rather than with `Date.parse`, which reads an offset-less date-time as local time, accepts
 * non-ISO formats ("March 7, 2024") and rolls impossible days over ("2024-02-30" → 1 March).
 */

const MS_PER_DAY = 86_400_000;
/** ECMAScript's time value range, which is also what a BSON date can round-trip through JS. */
const MAX_TIME = 8.64e15;

const DIGIT_0 = 48;

function digitsAt(s: string, at: number, count: number): number {
  let n = 0;
  for (let i = at; i < at + count; i++) {
    const d = s.charCodeAt(i) - DIGIT_0;
    // NaN past the end of the text fails this test too.
    if (!(d >= 0 && d <= 9)) return -1;
    n = n * 10 + d;
  }
  return n;
}

function isLeapYear(year: number): boolean {
  return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
}

export function daysInMonth(year: number, month: number): number {
  if (month === 2) return isLeapYear(year) ? 29 : 28;
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
}

/** Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil). */
export function daysFromCivil(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const doy = Math.floor((153 * (month + (month > 2 ? -3 : 9)) + 2) / 5) + day - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146_097 + doe - 719_468;
}

/**
 * The proleptic Gregorian date of a day number (days since 1970-01-01), packed as
 * `(year * 16 + month) * 32 + day` so the caller allocates nothing (H. Hinnant's civil_from_days).
 */
export function civilFromDays(days: number): number {
  const z = days + 719_468;
  const era = Math.floor(z / 146_097);
  const doe = z - era * 146_097;
  const yoe = Math.floor(
    (doe - Math.floor(doe / 1460) + Math.floor(doe / 36_524) - Math.floor(doe / 146_096)) / 365,
  );
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const day = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const month = mp < 10 ? mp + 3 : mp - 9;
  const year = yoe + era * 400 + (month <= 2 ? 1 : 0);
  return (year * 16 + month) * 32 + day;
}

/** UTC year and month (1–12) of an epoch-millisecond time, packed as `year * 16 + month`. */
export function utcYearMonth(ms: number): number {
  return Math.floor(civilFromDays(Math.floor(ms / MS_PER_DAY)) / 32);
}

/**
 * Parses ISO 8601 calendar dates and date-times strictly: `YYYY-MM-DD`, optionally followed by
 * `T` (or a space) `hh:mm[:ss[.fraction]]` and `Z` or an offset `±hh[:mm]`. Text without an
 * offset is UTC. Six-digit signed years are allowed. Fractions beyond milliseconds are truncated.
 * Returns NaN for anything else, including impossible days such as `2024-02-30`.
 */
export function parseIsoDate(s: string): number {
  let i = 0;
  let year: number;
  const first = s.charCodeAt(0);
  if (first === 43 || first === 45) {
    year = digitsAt(s, 1, 6);
    if (year < 0 || (first === 45 && year === 0)) return Number.NaN;
    if (first === 45) year = -year;
    i = 7;
  } else {
    year = digitsAt(s, 0, 4);
    if (year < 0) return Number.NaN;
    i = 4;
  }
  if (s.charCodeAt(i) !== 45 || s.charCodeAt(i + 3) !== 45) return Number.NaN;
  const month = digitsAt(s, i + 1, 2);
  const day = digitsAt(s, i + 4, 2);
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return Number.NaN;
  i += 6;
  let ms = daysFromCivil(year, month, day) * MS_PER_DAY;
  if (i < s.length) {
    const sep = s.charCodeAt(i);
    if (sep !== 84 && sep !== 116 && sep !== 32) return Number.NaN; // T, t, space
    const time = parseTimeOfDay(s, i + 1);
    if (Number.isNaN(time)) return Number.NaN;
    ms += time;
  }
  return ms >= -MAX_TIME && ms <= MAX_TIME ? ms : Number.NaN;
}

/** `hh:mm[:ss[.fff]][Z|±hh[:mm]]` from `at` to the end of `s`, in ms after UTC midnight. */
function parseTimeOfDay(s: string, at: number): number {
  const hour = digitsAt(s, at, 2);
  const minute = s.charCodeAt(at + 2) === 58 ? digitsAt(s, at + 3, 2) : -1;
  if (hour < 0 || hour > 23 || minute < 0 || minute > 59) return Number.NaN;
  let i = at + 5;
  let ms = hour * 3_600_000 + minute * 60_000;
  if (s.charCodeAt(i) === 58) {
    const second = digitsAt(s, i + 1, 2);
    if (second < 0 || second > 59) return Number.NaN;
    ms += second * 1000;
    i += 3;
    const mark = s.charCodeAt(i);
    if (mark === 46 || mark === 44) {
      let digits = 0;
      let fraction = 0;
      i++;
      for (;;) {
        const d = s.charCodeAt(i) - DIGIT_0;
        if (!(d >= 0 && d <= 9)) break;
        if (digits < 3) fraction = fraction * 10 + d;
        digits++;
        i++;
      }
      if (digits === 0) return Number.NaN;
      for (let k = digits; k < 3; k++) fraction *= 10;
      ms += fraction;
    }
  }
  if (i === s.length) return ms;
  const zone = s.charCodeAt(i);
  if ((zone === 90 || zone === 122) && i + 1 === s.length) return ms; // Z, z
  if (zone !== 43 && zone !== 45) return Number.NaN;
  const offsetHours = digitsAt(s, i + 1, 2);
  let offsetMinutes = 0;
  const rest = s.length - (i + 3);
  if (rest === 3 && s.charCodeAt(i + 3) === 58) offsetMinutes = digitsAt(s, i + 4, 2);
  else if (rest === 2) offsetMinutes = digitsAt(s, i + 3, 2);
  else if (rest !== 0) return Number.NaN;
  if (offsetHours < 0 || offsetHours > 23 || offsetMinutes < 0 || offsetMinutes > 59) return Number.NaN;
  const offset = offsetHours * 3_600_000 + offsetMinutes * 60_000;
  return zone === 43 ? ms - offset : ms + offset;
}

const INTEGER_TEXT = /^-?\d{1,16}$/;

function clipTime(ms: number): number {
  return ms >= -MAX_TIME && ms <= MAX_TIME ? Math.trunc(ms) + 0 : Number.NaN;
}

let lastText = '';
let lastTime = Number.NaN;

/**
 * Epoch milliseconds of a date value, or NaN. Accepts a valid `Date`, ISO 8601 text (see
 * {@link parseIsoDate}) and Extended JSON `{"$date": …}` holding ISO text, epoch milliseconds or
 * `{"$numberLong": "…"}`. Plain numbers are not dates: epoch values are ambiguous (s or ms).
 */
export function readDate(value: unknown): number {
  if (value instanceof Date) return value.getTime();
  if (typeof value === 'string') {
    // Inputs sorted by date repeat the same text many times in a row.
    if (value !== lastText) {
      lastTime = parseIsoDate(value);
      lastText = value;
    }
    return lastTime;
  }
  if (typeof value !== 'object' || value === null || bsonTypeOf(value) !== undefined) return Number.NaN;
  const inner = (value as { $date?: unknown }).$date;
  if (typeof inner === 'string') return parseIsoDate(inner);
  if (typeof inner === 'number') return clipTime(inner);
  if (typeof inner === 'object' && inner !== null) {
    const long = (inner as { $numberLong?: unknown }).$numberLong;
    if (typeof long === 'string' && INTEGER_TEXT.test(long)) return clipTime(Number(long));
  }
  return Number.NaN;
}

const TWO_DIGITS = Array.from({ length: 100 }, (_, i) => String(i).padStart(2, '0'));
const THREE_DIGITS = Array.from({ length: 1000 }, (_, i) => String(i).padStart(3, '0'));

/**
 * ISO 8601 UTC text of epoch milliseconds, exactly as `Date.prototype.toISOString` writes it
 * (`2024-01-05T00:00:00.000Z`), but about three times faster for years 0000–9999; every output
 * record carries one.
 */
export function formatIsoDate(ms: number): string {
  const days = Math.floor(ms / MS_PER_DAY);
  const packed = utcYearMonth(ms);
  const year = Math.floor(packed / 16);
  if (year < 0 || year > 9999) return new Date(ms).toISOString();
  const month = packed - year * 16;
  const day = days - daysFromCivil(year, month, 1) + 1;
  let rest = ms - days * MS_PER_DAY;
  const hour = Math.floor(rest / 3_600_000);
  rest -= hour * 3_600_000;
  const minute = Math.floor(rest / 60_000);
  rest -= minute * 60_000;
  const second = Math.floor(rest / 1000);
  const milli = rest - second * 1000;
  const century = Math.floor(year / 100);
  const t = TWO_DIGITS;
  return `${t[century]}${t[year - century * 100]}-${t[month]}-${t[day]}T${t[hour]}:${t[minute]}:${t[second]}.${THREE_DIGITS[milli]}Z`;
}
