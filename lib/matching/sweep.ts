/**
 * The two matching policies as linear sweeps over one partition whose accruals and payments are
 * already in `(date, id)` order (indices below are positions in that order).
 *
 * As payments advance in date order, accruals with a strictly earlier date become eligible, in
 * order. Eligible accruals of each month form a FIFO: the month's accruals sit contiguously in
 * `bucket` (in order), and `[head, tail)` is its eligible, not yet known to be paid part. The
 * eligible accruals of all months form the global FIFO `[globalHead, eligible)`. An accrual paid
 * through one FIFO is skipped lazily when the other reaches it, so each accrual is passed over at
 * most twice and a sweep costs O(n + m).
 */

export const RULE_SAME_MONTH = 0;
export const RULE_OLDEST = 1;

/** Sorted input of one partition plus scratch the sweep may overwrite. */
export interface SweepInput {
  readonly accrualCount: number;
  readonly accrualDate: Float64Array;
  /** Dense month index (0..monthCount) per accrual position. */
  readonly accrualMonth: Int32Array;
  /** Accrual positions grouped by month, each group in order; group `m` starts at `monthStart[m]`. */
  readonly bucket: Int32Array;
  readonly monthStart: Int32Array;
  readonly monthCount: number;
  readonly paymentCount: number;
  readonly paymentDate: Float64Array;
  /** Dense month index per payment position, -1 when no accrual of the partition has that month. */
  readonly paymentMonth: Int32Array;
  /** Zeroed flags, one per accrual position; set for paid accruals on return. */
  readonly paid: Uint8Array;
  readonly head: Int32Array;
  readonly tail: Int32Array;
  /** Room for one entry per payment. */
  readonly pending: Int32Array;
}

/** Receives matches in payment processing order and unmatched payments in `(date, id)` order. */
export interface SweepSink {
  match(payment: number, accrual: number, rule: number): void;
  unmatched(payment: number): void;
}

function resetMonthFifos(input: SweepInput): void {
  const { head, tail, monthStart, monthCount } = input;
  for (let m = 0; m < monthCount; m++) {
    head[m] = monthStart[m] as number;
    tail[m] = monthStart[m] as number;
  }
}

/**
 * Makes every accrual dated strictly before `date` eligible: appends it to its month's FIFO.
 * Returns the new end of the global FIFO.
 */
function admitAccrualsBefore(input: SweepInput, eligible: number, date: number): number {
  const { accrualCount, accrualDate, accrualMonth, tail } = input;
  let next = eligible;
  while (next < accrualCount && (accrualDate[next] as number) < date) {
    const m = accrualMonth[next] as number;
    tail[m] = (tail[m] as number) + 1;
    next++;
  }
  return next;
}

/** Pays and returns the oldest unpaid eligible accrual of `month`'s FIFO, or -1 when it has none. */
function takeOldestOfMonth(input: SweepInput, month: number): number {
  const { bucket, paid, head, tail } = input;
  let h = head[month] as number;
  const t = tail[month] as number;
  while (h < t && paid[bucket[h] as number] !== 0) h++;
  if (h === t) {
    head[month] = h;
    return -1;
  }
  const accrual = bucket[h] as number;
  paid[accrual] = 1;
  head[month] = h + 1;
  return accrual;
}

/**
 * `chronological`: each payment, in order, takes the oldest unpaid eligible accrual of its month,
 * else the oldest unpaid eligible accrual of any month, else stays unmatched.
 */
export function sweepChronological(input: SweepInput, sink: SweepSink): void {
  const { paymentCount, paymentDate, paymentMonth, paid } = input;
  resetMonthFifos(input);
  let eligible = 0;
  let globalHead = 0;
  for (let p = 0; p < paymentCount; p++) {
    eligible = admitAccrualsBefore(input, eligible, paymentDate[p] as number);
    const month = paymentMonth[p] as number;
    const sameMonth = month >= 0 ? takeOldestOfMonth(input, month) : -1;
    if (sameMonth >= 0) {
      sink.match(p, sameMonth, RULE_SAME_MONTH);
      continue;
    }
    while (globalHead < eligible && paid[globalHead] !== 0) globalHead++;
    if (globalHead < eligible) {
      paid[globalHead] = 1;
      sink.match(p, globalHead, RULE_OLDEST);
      globalHead++;
    } else {
      sink.unmatched(p);
    }
  }
}

/**
 * `month-first`: pass 1 gives every payment, in order, the oldest unpaid eligible accrual of its
 * month; pass 2 gives each payment still unmatched, in order, the oldest unpaid eligible accrual.
 */
export function sweepMonthFirst(input: SweepInput, sink: SweepSink): void {
  const { accrualCount, accrualDate, paymentCount, paymentDate, paymentMonth, paid, pending } = input;
  resetMonthFifos(input);
  let eligible = 0;
  let pendingCount = 0;
  for (let p = 0; p < paymentCount; p++) {
    eligible = admitAccrualsBefore(input, eligible, paymentDate[p] as number);
    const month = paymentMonth[p] as number;
    const sameMonth = month >= 0 ? takeOldestOfMonth(input, month) : -1;
    if (sameMonth >= 0) sink.match(p, sameMonth, RULE_SAME_MONTH);
    else pending[pendingCount++] = p;
  }
  eligible = 0;
  let globalHead = 0;
  for (let i = 0; i < pendingCount; i++) {
    const p = pending[i] as number;
    const date = paymentDate[p] as number;
    while (eligible < accrualCount && (accrualDate[eligible] as number) < date) eligible++;
    while (globalHead < eligible && paid[globalHead] !== 0) globalHead++;
    if (globalHead < eligible) {
      paid[globalHead] = 1;
      sink.match(p, globalHead, RULE_OLDEST);
      globalHead++;
    } else {
      sink.unmatched(p);
    }
  }
}
