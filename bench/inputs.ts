import { createRandom, shuffleInPlace } from './random.js';

/** One generated accrual or payment: the plain object shape the matcher reads (SPEC §3). */
export interface MatchingRecord {
  readonly id: number;
  readonly date: Date;
  readonly month: string | number;
}

export interface MatchingInputs {
  readonly accruals: MatchingRecord[];
  readonly payments: MatchingRecord[];
}

/**
 * The shape of the generated data. About 1,000 distinct days for n = 10^6 means about a thousand
 * records share each date, so ordering really has to break ties by id; months are drawn
 * independently of dates from two years, so most payments find a same-month accrual but not all.
 * Payments are shifted a little later than accruals so that most of them have eligible accruals.
 */
export const INPUT_SHAPE = {
  firstDay: Date.UTC(2022, 0, 1),
  days: 1000,
  paymentLagDays: 15,
  firstMonth: { year: 2022, month: 1 },
  months: 24,
} as const;

const DAY_MS = 86_400_000;

function monthLabels(): string[] {
  const labels: string[] = [];
  const { year, month } = INPUT_SHAPE.firstMonth;
  for (let i = 0; i < INPUT_SHAPE.months; i++) {
    const index = month - 1 + i;
    const y = year + Math.floor(index / 12);
    labels.push(`${y}-${String((index % 12) + 1).padStart(2, '0')}`);
  }
  return labels;
}

function side(count: number, lagDays: number, seed: number): MatchingRecord[] {
  const random = createRandom(seed);
  const ids = new Int32Array(count);
  for (let i = 0; i < count; i++) ids[i] = i + 1;
  shuffleInPlace(ids, random);
  const months = monthLabels();
  // Pushed, not preallocated: a packed array, as JSON parsing or a cursor would produce.
  const records: MatchingRecord[] = [];
  for (let i = 0; i < count; i++) {
    const day = lagDays + random.int(INPUT_SHAPE.days);
    records.push({
      id: ids[i] as number,
      date: new Date(INPUT_SHAPE.firstDay + day * DAY_MS),
      month: months[random.int(months.length)] as string,
    });
  }
  return records;
}

/**
 * `size` accruals and `size` payments in random order (numeric ids 1..size shuffled, dates with
 * many ties, `YYYY-MM` months), the same for the same `(size, seed)`.
 *
 * @example
 * const { accruals, payments } = generateMatchingInputs(1000, 1);
 */
export function generateMatchingInputs(size: number, seed: number): MatchingInputs {
  return {
    accruals: side(size, 0, seed * 2 + 1),
    payments: side(size, INPUT_SHAPE.paymentLagDays, seed * 2 + 2),
  };
}
