import { civilFromDays, daysFromCivil, daysInMonth } from './dates.js';

/**
 * The limitation period (срок исковой давности, SPEC §7): an ISO 8601 duration of whole years and
 * months. An accrual is time-barred at a payment when it is dated before the payment's cutoff:
 * the payment's date moved back by the period on the UTC calendar, same time of day, a day the
 * target month lacks becoming its last day (2024-02-29 minus P1Y is 2023-02-28).
 */

/** The longest period accepted: a century is already far beyond any statute; more is a typo. */
export const MAX_LIMITATION_MONTHS = 1200;

const DURATION = /^P(?:(\d{1,9})Y)?(?:(\d{1,9})M)?$/;
const MS_PER_DAY = 86_400_000;
const MIN_TIME = -8.64e15;

/** Why `text` is not a limitation period, or undefined when it is one. */
export function limitationPeriodProblem(text: unknown): string | undefined {
  if (typeof text !== 'string') return 'must be a string';
  const parsed = DURATION.exec(text);
  if (parsed === null || text === 'P') {
    return 'must be an ISO 8601 duration of whole years and/or months, such as P3Y, P36M or P2Y6M (no days, weeks, times, signs or fractions)';
  }
  const months = monthsOf(parsed);
  if (months === 0) return 'must be longer than zero';
  if (months > MAX_LIMITATION_MONTHS) return `must be at most ${MAX_LIMITATION_MONTHS / 12} years`;
  return undefined;
}

function monthsOf(parsed: RegExpExecArray): number {
  return Number(parsed[1] ?? 0) * 12 + Number(parsed[2] ?? 0);
}

/**
 * The period in months. Throws a TypeError naming the problem for anything
 * {@link limitationPeriodProblem} refuses.
 */
export function limitationMonths(text: string): number {
  const problem = limitationPeriodProblem(text);
  if (problem !== undefined) throw new TypeError(`limitationPeriod ${JSON.stringify(text)} ${problem}`);
  return monthsOf(DURATION.exec(text) as RegExpExecArray);
}

/**
 * The canonical spelling of a period (`P36M` → `P3Y`, `P18M` → `P1Y6M`): equal periods are one
 * value in the run record and in idempotency fingerprints.
 */
export function canonicalLimitationPeriod(text: string): string {
  const months = limitationMonths(text);
  const years = Math.floor(months / 12);
  const rest = months % 12;
  return `P${years > 0 ? `${years}Y` : ''}${rest > 0 || years === 0 ? `${rest}M` : ''}`;
}

/**
 * Cutoffs of one run's period, cached for the last date asked: payments arrive in date order and
 * many share a date, so most calls are one comparison.
 */
export class LimitationCutoff {
  private lastDate = Number.NaN;
  private lastCutoff = Number.NaN;

  constructor(readonly months: number) {}

  /** `dateMs` moved back by the period; accruals dated strictly before it are time-barred. */
  of(dateMs: number): number {
    if (dateMs === this.lastDate) return this.lastCutoff;
    this.lastDate = dateMs;
    this.lastCutoff = monthsBefore(dateMs, this.months);
    return this.lastCutoff;
  }
}

/**
 * `ms` moved back by `months` calendar months in UTC, keeping the time of day and clamping the day
 * to the target month's length (H. Hinnant's civil_from_days / days_from_civil, integer only).
 * Below the smallest time a date can hold, nothing can be older: -Infinity.
 */
export function monthsBefore(ms: number, months: number): number {
  const days = Math.floor(ms / MS_PER_DAY);
  const timeOfDay = ms - days * MS_PER_DAY;
  const civil = civilFromDays(days);
  const yearMonth = Math.floor(civil / 32);
  const day = civil - yearMonth * 32;
  const year = Math.floor(yearMonth / 16);
  const month = yearMonth - year * 16;
  const index = year * 12 + (month - 1) - months;
  const targetYear = Math.floor(index / 12);
  const targetMonth = index - targetYear * 12 + 1;
  const targetDay = Math.min(day, daysInMonth(targetYear, targetMonth));
  const cutoff = daysFromCivil(targetYear, targetMonth, targetDay) * MS_PER_DAY + timeOfDay;
  return cutoff < MIN_TIME ? Number.NEGATIVE_INFINITY : cutoff;
}
