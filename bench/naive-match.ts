import type { MatchingRecord } from './inputs.js';

/** What the naive baseline produced: pairs of record indices, and the counts the matcher reports. */
export interface NaiveOutcome {
  /** Per match, in payment processing order: payment index, accrual index (into the inputs). */
  readonly matchPayment: Int32Array;
  readonly matchAccrual: Int32Array;
  readonly sameMonth: Uint8Array;
  readonly unmatchedPayments: Int32Array;
  readonly unpaidAccruals: Int32Array;
  readonly stats: {
    readonly matched: number;
    readonly sameMonth: number;
    readonly unmatched: number;
    readonly unpaid: number;
  };
}

interface Normalised {
  readonly date: Float64Array;
  readonly id: Float64Array;
  readonly month: Int32Array;
}

function normalise(records: readonly MatchingRecord[], months: Map<unknown, number>): Normalised {
  const n = records.length;
  const date = new Float64Array(n);
  const id = new Float64Array(n);
  const month = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const record = records[i] as MatchingRecord;
    date[i] = record.date.getTime();
    id[i] = record.id;
    let key = months.get(record.month);
    if (key === undefined) {
      key = months.size;
      months.set(record.month, key);
    }
    month[i] = key;
  }
  return { date, id, month };
}

/**
 * The straightforward `chronological` matcher, as a baseline for growth rates: payments in
 * `(date, id)` order, and for each one a scan of *all* accruals for the best unpaid eligible
 * candidate (same month first, then oldest by `(date, id)`). Θ(n·m) by construction.
 *
 * Columnar (typed arrays) on purpose, so that it differs from the real matcher in its algorithm
 * only. Handles the generated data (numeric ids, Date dates, unique ids); no validation.
 */
export function matchNaive(
  accruals: readonly MatchingRecord[],
  payments: readonly MatchingRecord[],
): NaiveOutcome {
  const months = new Map<unknown, number>();
  const a = normalise(accruals, months);
  const p = normalise(payments, months);
  const n = accruals.length;
  const m = payments.length;
  const order = Array.from({ length: m }, (_, i) => i);
  order.sort(
    (x, y) => (p.date[x] as number) - (p.date[y] as number) || (p.id[x] as number) - (p.id[y] as number),
  );

  const paid = new Uint8Array(n);
  const matchPayment: number[] = [];
  const matchAccrual: number[] = [];
  const sameMonth: number[] = [];
  const unmatched: number[] = [];
  let sameMonthCount = 0;
  for (const payment of order) {
    const date = p.date[payment] as number;
    const month = p.month[payment] as number;
    let best = -1;
    let bestSame = false;
    for (let accrual = 0; accrual < n; accrual++) {
      if (paid[accrual] !== 0 || (a.date[accrual] as number) >= date) continue;
      const same = a.month[accrual] === month;
      if (best === -1 || (same && !bestSame)) {
        best = accrual;
        bestSame = same;
      } else if (same === bestSame) {
        const older =
          (a.date[accrual] as number) < (a.date[best] as number) ||
          (a.date[accrual] === a.date[best] && (a.id[accrual] as number) < (a.id[best] as number));
        if (older) best = accrual;
      }
    }
    if (best === -1) {
      unmatched.push(payment);
      continue;
    }
    paid[best] = 1;
    matchPayment.push(payment);
    matchAccrual.push(best);
    sameMonth.push(bestSame ? 1 : 0);
    if (bestSame) sameMonthCount++;
  }

  const unpaid = Array.from({ length: n }, (_, i) => i).filter((i) => paid[i] === 0);
  unpaid.sort(
    (x, y) => (a.date[x] as number) - (a.date[y] as number) || (a.id[x] as number) - (a.id[y] as number),
  );

  return {
    matchPayment: Int32Array.from(matchPayment),
    matchAccrual: Int32Array.from(matchAccrual),
    sameMonth: Uint8Array.from(sameMonth),
    unmatchedPayments: Int32Array.from(unmatched),
    unpaidAccruals: Int32Array.from(unpaid),
    stats: {
      matched: matchPayment.length,
      sameMonth: sameMonthCount,
      unmatched: unmatched.length,
      unpaid: unpaid.length,
    },
  };
}
