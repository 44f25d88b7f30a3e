/** One generated accrual or payment: a document as the matcher reads it (SPEC §3). */
export interface MatchingRecord {
  readonly id: number;
  readonly date: Date;
  readonly month: string;
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
export const INPUT_SHAPE = { firstDay: Date.UTC(2022, 0, 1), days: 1000, paymentLagDays: 15, months: 24 };

const DAY_MS = 86_400_000;
const MONTHS = Array.from(
  { length: INPUT_SHAPE.months },
  (_, i) => `${2022 + Math.floor(i / 12)}-${String((i % 12) + 1).padStart(2, '0')}`,
);

/**
 * A seeded PRNG (mulberry32), uniform in [0, 1): inputs must be identical from run to run and
 * machine to machine, which `Math.random` cannot promise.
 */
export function createRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/**
 * Ids 1..count shuffled over random days, returned in `(date, id)` order and allocated in that
 * order: what a cursor on the `{ date: 1, id: 1 }` index (the worker's query) hands out.
 */
function side(count: number, lagDays: number, seed: number): MatchingRecord[] {
  const random = createRandom(seed);
  const int = (bound: number): number => Math.floor(random() * bound);
  const ids = Int32Array.from({ length: count }, (_, i) => i + 1);
  for (let i = count - 1; i > 0; i--) {
    const j = int(i + 1);
    [ids[i], ids[j]] = [ids[j] as number, ids[i] as number];
  }
  // (day, id) packed into one double, so one native sort orders them.
  const keys = Float64Array.from(ids, (id) => (lagDays + int(INPUT_SHAPE.days)) * 2 ** 32 + id);
  keys.sort();
  const records: MatchingRecord[] = [];
  for (const key of keys) {
    const day = Math.floor(key / 2 ** 32);
    records.push({
      id: key - day * 2 ** 32,
      date: new Date(INPUT_SHAPE.firstDay + day * DAY_MS),
      month: MONTHS[int(MONTHS.length)] as string,
    });
  }
  return records;
}

/**
 * `size` accruals and `size` payments (numeric ids, dates with many ties, `YYYY-MM` months), each
 * in `(date, id)` order, the same for the same `(size, seed)`.
 *
 * @example
 * const { accruals, payments } = generateMatchingInputs(1000, 1);
 */
export function generateMatchingInputs(size: number, seed: number): MatchingInputs {
  return { accruals: generateSide('accruals', size, seed), payments: generateSide('payments', size, seed) };
}

/** One side of {@link generateMatchingInputs}, for a caller that cannot hold both at once (10^7 records). */
export function generateSide(which: keyof MatchingInputs, size: number, seed: number): MatchingRecord[] {
  return which === 'accruals'
    ? side(size, 0, seed * 2 + 1)
    : side(size, INPUT_SHAPE.paymentLagDays, seed * 2 + 2);
}
