import type { LimitationCutoff } from './limitation.js';

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

/**
 * Why a payment stayed unmatched or an accrual unpaid (SPEC §6), decided on the partition's final
 * state among its valid records. Codes index {@link UNMATCHED_PAYMENT_REASONS} and
 * {@link UNPAID_ACCRUAL_REASONS}.
 */
export const REASON_NOTHING_ELIGIBLE = 0;
export const REASON_TIME_BARRED = 1;
export const REASON_ALL_TAKEN = 2;

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
  /**
   * The run's limitation period (SPEC §7), or undefined for none: the oldest-accrual step skips
   * accruals dated before the payment's cutoff; the same-month step ignores it.
   */
  readonly cutoff: LimitationCutoff | undefined;
  /** Per dense month index: the latest date of a payment of that month (-Infinity for none). */
  readonly lastPaymentDate: Float64Array;
}

/** Receives matches in payment processing order and unmatched payments in `(date, id)` order. */
export interface SweepSink {
  match(payment: number, accrual: number, rule: number): void;
  unmatched(payment: number, reason: number): void;
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
  const { paymentCount, paymentDate, paymentMonth } = input;
  resetMonthFifos(input);
  let eligible = 0;
  let globalHead = 0;
  for (let p = 0; p < paymentCount; p++) {
    const date = paymentDate[p] as number;
    eligible = admitAccrualsBefore(input, eligible, date);
    const month = paymentMonth[p] as number;
    const sameMonth = month >= 0 ? takeOldestOfMonth(input, month) : -1;
    if (sameMonth >= 0) {
      sink.match(p, sameMonth, RULE_SAME_MONTH);
      continue;
    }
    globalHead = takeOldest(input, p, globalHead, eligible, sink);
  }
}

/**
 * The oldest-accrual step for payment `p`: pays the oldest unpaid accrual of the global FIFO
 * `[globalHead, eligible)` that is not time-barred at `p`, or reports `p` unmatched with its
 * reason. Returns the new FIFO head. Cutoffs never decrease as payments advance in date order,
 * so an accrual time-barred at `p` is time-barred for every later payment's oldest step too, and
 * the head moves past it for good (the same-month step reaches it through its month's FIFO).
 */
function takeOldest(input: SweepInput, p: number, head: number, eligible: number, sink: SweepSink): number {
  const { paid, accrualDate, cutoff } = input;
  let globalHead = head;
  if (cutoff === undefined) {
    while (globalHead < eligible && paid[globalHead] !== 0) globalHead++;
  } else {
    const barredBefore = cutoff.of(input.paymentDate[p] as number);
    while (
      globalHead < eligible &&
      (paid[globalHead] !== 0 || (accrualDate[globalHead] as number) < barredBefore)
    ) {
      globalHead++;
    }
  }
  if (globalHead < eligible) {
    paid[globalHead] = 1;
    sink.match(p, globalHead, RULE_OLDEST);
    return globalHead + 1;
  }
  sink.unmatched(p, unmatchedReason(input, p, eligible));
  return globalHead;
}

/**
 * SPEC §6 for an unmatched payment `p`, given `eligible`, the number of accruals dated strictly
 * before it (accruals are in date order, so the latest of them is `eligible - 1` and the earliest
 * of a month is the first of its bucket). Constant time.
 */
function unmatchedReason(input: SweepInput, p: number, eligible: number): number {
  if (eligible === 0) return REASON_NOTHING_ELIGIBLE;
  const { cutoff } = input;
  if (cutoff === undefined) return REASON_ALL_TAKEN;
  const date = input.paymentDate[p] as number;
  // An earlier accrual that is not time-barred could have been paid: it went to another payment.
  if ((input.accrualDate[eligible - 1] as number) >= cutoff.of(date)) return REASON_ALL_TAKEN;
  // So could an earlier accrual of the payment's own month, however old.
  const month = input.paymentMonth[p] as number;
  if (month >= 0) {
    const first = input.bucket[input.monthStart[month] as number] as number;
    if ((input.accrualDate[first] as number) < date) return REASON_ALL_TAKEN;
  }
  return REASON_TIME_BARRED;
}

/**
 * SPEC §6 for the partition's unpaid accruals, after a sweep: calls `emit(accrual, reason)` for
 * each unpaid accrual in order. One merged walk over accruals and payments (both in date order)
 * finds, for each accrual, the first payment dated after it; cutoffs never decrease with the
 * payment's date, so that payment's cutoff decides whether every later payment finds it
 * time-barred.
 */
export function unpaidAccrualReasons(
  input: SweepInput,
  emit: (accrual: number, reason: number) => void,
): void {
  const {
    accrualCount,
    accrualDate,
    accrualMonth,
    paid,
    paymentCount,
    paymentDate,
    cutoff,
    lastPaymentDate,
  } = input;
  let later = 0;
  for (let a = 0; a < accrualCount; a++) {
    if (paid[a] !== 0) continue;
    const date = accrualDate[a] as number;
    while (later < paymentCount && (paymentDate[later] as number) <= date) later++;
    let reason = REASON_ALL_TAKEN;
    if (later === paymentCount) reason = REASON_NOTHING_ELIGIBLE;
    else if (
      cutoff !== undefined &&
      !((lastPaymentDate[accrualMonth[a] as number] as number) > date) &&
      date < cutoff.of(paymentDate[later] as number)
    ) {
      reason = REASON_TIME_BARRED;
    }
    emit(a, reason);
  }
}

/**
 * `month-first`: pass 1 gives every payment, in order, the oldest unpaid eligible accrual of its
 * month; pass 2 gives each payment still unmatched, in order, the oldest unpaid eligible accrual.
 */
export function sweepMonthFirst(input: SweepInput, sink: SweepSink): void {
  const { accrualCount, accrualDate, paymentCount, paymentDate, paymentMonth, pending } = input;
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
    globalHead = takeOldest(input, p, globalHead, eligible, sink);
  }
}
