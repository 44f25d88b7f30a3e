import { Float64List, Int32List, Uint8List } from './columns.js';
import type { DateTable, SweepScratch } from './scratch.js';
import { RULE_SAME_MONTH, type SweepSink, unpaidAccrualReasons } from './sweep.js';

/**
 * Collects each partition's sweep into the run's outcome: record indices (read positions), rule
 * codes and date ranks, in the order the outputs list them.
 */
export class OutcomeSink implements SweepSink, DateTable {
  readonly matchPayment = new Int32List();
  readonly matchAccrual = new Int32List();
  readonly matchRule = new Uint8List();
  readonly matchPaymentDate = new Int32List();
  readonly matchAccrualDate = new Int32List();
  readonly unmatchedPayments = new Int32List();
  readonly unmatchedPaymentDates = new Int32List();
  /** Reason code per unmatched payment (see sweep.ts), and how many of each. */
  readonly unmatchedPaymentReasons = new Uint8List();
  readonly unmatchedReasonCounts = [0, 0, 0];
  readonly unpaidAccruals = new Int32List();
  readonly unpaidAccrualDates = new Int32List();
  readonly unpaidAccrualReasons = new Uint8List();
  readonly unpaidReasonCounts = [0, 0, 0];
  /**
   * Distinct dates of the run (entries of the `…Date` lists index it). Outputs format dates from
   * here instead of reading each record's Date object again: in output order the records are
   * scattered in memory, and every pointer not followed there saves a cache miss.
   */
  readonly dates = new Float64List();
  sameMonth = 0;
  /** The partition being swept. */
  sweep: SweepScratch | undefined;

  /** Room for `count` more matches, so that a partition's sweep never grows the lists. */
  reserveMatches(count: number): void {
    this.matchPayment.reserve(count);
    this.matchAccrual.reserve(count);
    this.matchRule.reserve(count);
    this.matchPaymentDate.reserve(count);
    this.matchAccrualDate.reserve(count);
  }

  match(payment: number, accrual: number, rule: number): void {
    const s = this.sweep as SweepScratch;
    this.matchPayment.push(s.paymentOrder[payment] as number);
    this.matchAccrual.push(s.accrualOrder[accrual] as number);
    this.matchRule.push(rule);
    this.matchPaymentDate.push(s.paymentDateRank[payment] as number);
    this.matchAccrualDate.push(s.accrualDateRank[accrual] as number);
    if (rule === RULE_SAME_MONTH) this.sameMonth++;
  }

  unmatched(payment: number, reason: number): void {
    const s = this.sweep as SweepScratch;
    this.unmatchedPayments.push(s.paymentOrder[payment] as number);
    this.unmatchedPaymentDates.push(s.paymentDateRank[payment] as number);
    this.unmatchedPaymentReasons.push(reason);
    this.unmatchedReasonCounts[reason] = (this.unmatchedReasonCounts[reason] as number) + 1;
  }

  /** Appends the partition's unpaid accruals (`count` of them) in `(date, id)` order, with their reasons. */
  unpaid(count: number): void {
    const s = this.sweep as SweepScratch;
    this.unpaidAccruals.reserve(count);
    this.unpaidAccrualDates.reserve(count);
    this.unpaidAccrualReasons.reserve(count);
    unpaidAccrualReasons(s, this.addUnpaid);
  }

  private readonly addUnpaid = (accrual: number, reason: number): void => {
    const s = this.sweep as SweepScratch;
    this.unpaidAccruals.push(s.accrualOrder[accrual] as number);
    this.unpaidAccrualDates.push(s.accrualDateRank[accrual] as number);
    this.unpaidAccrualReasons.push(reason);
    this.unpaidReasonCounts[reason] = (this.unpaidReasonCounts[reason] as number) + 1;
  };

  /** Rank of `date` in {@link dates}, given the previous rank handed out (sorted input repeats dates). */
  dateRank(date: number, previous: number): number {
    if (previous >= 0 && this.dates.data[previous] === date) return previous;
    this.dates.push(date);
    return this.dates.length - 1;
  }
}
