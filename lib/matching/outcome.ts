import type { HeldRecords } from './columns.js';
import { toJsonSafe } from './json-safe.js';
import { OutputRecordBuilder } from './output-record.js';
import { RULE_SAME_MONTH } from './sweep.js';
import {
  type Match,
  type MatchRule,
  type MatchStats,
  type OutputRecord,
  type Policy,
  type RecordSource,
  type RejectedRecord,
  UNMATCHED_PAYMENT_REASONS,
  UNPAID_ACCRUAL_REASONS,
  type UnmatchedPayment,
  type UnpaidAccrual,
} from './types.js';

/**
 * The result of one matching run. Held in columnar form (record indices and rule codes); the
 * output records of SPEC §3 are built on the fly each time one of the iterables is walked, so a
 * million-record run never holds a million output objects at once. Every method can be iterated
 * any number of times.
 */
export interface MatchOutcome {
  readonly policy: Policy;
  readonly stats: MatchStats;
  /** The partition field the run used, if any (the CSV outputs add a `partition` column for it). */
  readonly partitionBy?: string;
  /** The limitation period the run applied, canonical (`P3Y`); absent: none. */
  readonly limitationPeriod?: string;
  /** Matches in payment processing order (`month-first`: pass-1 matches, then pass-2 matches). */
  matches(): Iterable<Match>;
  /** Unmatched payments in `(partition, date, id)` order, each with its reason. */
  unmatchedPayments(): Iterable<UnmatchedPayment>;
  /** Unpaid accruals in `(partition, date, id)` order, each with its reason. */
  unpaidAccruals(): Iterable<UnpaidAccrual>;
  /** Rejected accruals, then rejected payments, each in read order. */
  rejected(): Iterable<RejectedRecord>;
}

export interface RejectedEntry {
  readonly source: RecordSource;
  /** Where the record was read, in the caller's input order: rejections are listed by it. */
  readonly position: number;
  readonly record: unknown;
  readonly reason: string;
}

/** Everything a finished run produced, in columnar form. */
export interface OutcomeColumns {
  readonly policy: Policy;
  readonly partitionBy: string | undefined;
  readonly limitationPeriod: string | undefined;
  /** Records that passed field validation, in read order; outputs refer to them by index. */
  readonly accruals: HeldRecords;
  readonly payments: HeldRecords;
  /** Per match: payment index, accrual index (into the records above) and rule code. */
  readonly matchPayment: Int32Array;
  readonly matchAccrual: Int32Array;
  readonly matchRule: Uint8Array;
  /** Dates of the records above, as indices into `dates`. */
  readonly matchPaymentDate: Int32Array;
  readonly matchAccrualDate: Int32Array;
  readonly unmatchedPayments: Int32Array;
  readonly unmatchedPaymentDates: Int32Array;
  /** Reason codes, indices into UNMATCHED_PAYMENT_REASONS / UNPAID_ACCRUAL_REASONS. */
  readonly unmatchedPaymentReasons: Uint8Array;
  readonly unpaidAccruals: Int32Array;
  readonly unpaidAccrualDates: Int32Array;
  readonly unpaidAccrualReasons: Uint8Array;
  /** The run's distinct dates (epoch ms). */
  readonly dates: Float64Array;
  /** Already in output order. */
  readonly rejected: readonly RejectedEntry[];
  readonly stats: MatchStats;
}

/** Records built per warm-up loop: enough to overlap memory fetches, few enough to stay in cache. */
const WARM_CHUNK = 32;

/**
 * One builder for every outcome: its caches (date and month texts) are pure memos of constant
 * size, and building one costs more than a small partition's records (partition-at-a-time runs
 * walk each partition's outcome once).
 */
const builder = new OutputRecordBuilder();

function* recordsWithReasons<R extends string>(
  records: HeldRecords,
  indices: Int32Array,
  dateRanks: Int32Array,
  dates: Float64Array,
  reasons: Uint8Array,
  names: readonly R[],
): Iterable<OutputRecord & { readonly reason: R }> {
  for (let from = 0; from < indices.length; from += WARM_CHUNK) {
    const to = Math.min(from + WARM_CHUNK, indices.length);
    builder.warm(records, indices, from, to);
    for (let i = from; i < to; i++) {
      const reason = names[reasons[i] as number] as R;
      yield builder.build(
        records.at(indices[i] as number),
        dates[dateRanks[i] as number] as number,
        reason,
      ) as OutputRecord & { readonly reason: R };
    }
  }
}

function ruleName(code: number): MatchRule {
  return code === RULE_SAME_MONTH ? 'same-month' : 'oldest';
}

/** {@link MatchOutcome} over {@link OutcomeColumns}. */
export class ColumnarOutcome implements MatchOutcome {
  readonly policy: Policy;
  readonly stats: MatchStats;
  readonly partitionBy?: string;
  readonly limitationPeriod?: string;

  constructor(private readonly columns: OutcomeColumns) {
    this.policy = columns.policy;
    this.stats = columns.stats;
    if (columns.partitionBy !== undefined) this.partitionBy = columns.partitionBy;
    if (columns.limitationPeriod !== undefined) this.limitationPeriod = columns.limitationPeriod;
  }

  *matches(): Iterable<Match> {
    const {
      matchPayment,
      matchAccrual,
      matchRule,
      matchPaymentDate,
      matchAccrualDate,
      payments,
      accruals,
      dates,
    } = this.columns;
    for (let from = 0; from < matchPayment.length; from += WARM_CHUNK) {
      const to = Math.min(from + WARM_CHUNK, matchPayment.length);
      builder.warm(payments, matchPayment, from, to);
      builder.warm(accruals, matchAccrual, from, to);
      for (let i = from; i < to; i++) {
        yield {
          payment: builder.build(
            payments.at(matchPayment[i] as number),
            dates[matchPaymentDate[i] as number] as number,
          ),
          accrual: builder.build(
            accruals.at(matchAccrual[i] as number),
            dates[matchAccrualDate[i] as number] as number,
          ),
          rule: ruleName(matchRule[i] as number),
        };
      }
    }
  }

  unmatchedPayments(): Iterable<UnmatchedPayment> {
    const { payments, unmatchedPayments, unmatchedPaymentDates, unmatchedPaymentReasons, dates } =
      this.columns;
    return recordsWithReasons(
      payments,
      unmatchedPayments,
      unmatchedPaymentDates,
      dates,
      unmatchedPaymentReasons,
      UNMATCHED_PAYMENT_REASONS,
    );
  }

  unpaidAccruals(): Iterable<UnpaidAccrual> {
    const { accruals, unpaidAccruals, unpaidAccrualDates, unpaidAccrualReasons, dates } = this.columns;
    return recordsWithReasons(
      accruals,
      unpaidAccruals,
      unpaidAccrualDates,
      dates,
      unpaidAccrualReasons,
      UNPAID_ACCRUAL_REASONS,
    );
  }

  *rejected(): Iterable<RejectedRecord> {
    for (const entry of this.columns.rejected) {
      yield { source: entry.source, record: toJsonSafe(entry.record), reason: entry.reason };
    }
  }
}

/** `stats.reasons` from per-code counts (indices as in UNMATCHED_PAYMENT_REASONS / UNPAID_ACCRUAL_REASONS). */
export function reasonCounts(unmatched: readonly number[], unpaid: readonly number[]): MatchStats['reasons'] {
  return {
    unmatchedPayments: Object.fromEntries(
      UNMATCHED_PAYMENT_REASONS.map((name, code) => [name, unmatched[code] ?? 0]),
    ) as MatchStats['reasons']['unmatchedPayments'],
    unpaidAccruals: Object.fromEntries(
      UNPAID_ACCRUAL_REASONS.map((name, code) => [name, unpaid[code] ?? 0]),
    ) as MatchStats['reasons']['unpaidAccruals'],
  };
}
