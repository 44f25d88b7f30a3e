/**
 * Public types of payment matching (SPEC §3). The implementation lives beside this file; the
 * worker, the CLI and the HTTP layer depend only on these shapes.
 */

export const POLICIES = ['chronological', 'month-first'] as const;
export type Policy = (typeof POLICIES)[number];
export const DEFAULT_POLICY: Policy = 'chronological';

export type RecordSource = 'accrual' | 'payment';
export type MatchRule = 'same-month' | 'oldest';

/**
 * A record as it appears in every output (JSON, CSV, HTTP): the source document with all its
 * fields carried through, `date` as an ISO 8601 UTC string, `month` normalised (`YYYY-MM`, or the
 * bare integer 1–12 when the input gave one), and an ObjectId `id` as Extended JSON `{"$oid": hex}`.
 */
export type OutputRecord = {
  readonly id: unknown;
  readonly date: string;
  readonly month: string | number;
} & Readonly<Record<string, unknown>>;

/**
 * Why a payment stayed unmatched (SPEC §6), within its partition, on the run's final state:
 * no accrual is earlier than it; every earlier accrual has another month and is time-barred
 * (limitation period); or every accrual it could have paid went to another payment.
 */
export const UNMATCHED_PAYMENT_REASONS = [
  'no-earlier-accrual',
  'time-barred',
  'earlier-accruals-paid',
] as const;
export type UnmatchedPaymentReason = (typeof UNMATCHED_PAYMENT_REASONS)[number];

/**
 * Why an accrual stayed unpaid (SPEC §6): no payment is later than it; every later payment has
 * another month and finds it time-barred; or the later payments were used elsewhere.
 */
export const UNPAID_ACCRUAL_REASONS = ['no-later-payment', 'time-barred', 'later-payments-used'] as const;
export type UnpaidAccrualReason = (typeof UNPAID_ACCRUAL_REASONS)[number];

/** An unmatched payment in the outputs: the record, with the matcher's `reason` (it replaces a field of that name). */
export type UnmatchedPayment = OutputRecord & { readonly reason: UnmatchedPaymentReason };
/** An unpaid accrual in the outputs: the record, with the matcher's `reason`. */
export type UnpaidAccrual = OutputRecord & { readonly reason: UnpaidAccrualReason };

export interface Match {
  readonly payment: OutputRecord;
  readonly accrual: OutputRecord;
  readonly rule: MatchRule;
}

export interface RejectedRecord {
  readonly source: RecordSource;
  /** The record as read, made JSON-safe (Extended JSON for BSON values). */
  readonly record: unknown;
  readonly reason: string;
}

export interface MatchStats {
  readonly accruals: number;
  readonly payments: number;
  readonly matched: number;
  readonly sameMonth: number;
  readonly oldest: number;
  readonly unmatched: number;
  readonly unpaid: number;
  readonly rejected: number;
  /** How many unmatched payments and unpaid accruals there are for each reason (every reason listed). */
  readonly reasons: ReasonCounts;
  readonly durationMs: number;
}

export interface ReasonCounts {
  readonly unmatchedPayments: Readonly<Record<UnmatchedPaymentReason, number>>;
  readonly unpaidAccruals: Readonly<Record<UnpaidAccrualReason, number>>;
}

/** The result document of SPEC §3, identical in S3, over HTTP and on the command line. */
export interface MatchResult {
  readonly runId: string;
  readonly policy: Policy;
  readonly generatedAt: string;
  /** The limitation period the run applied (SPEC §7), canonical (`P3Y`); absent: no limit. */
  readonly limitationPeriod?: string;
  readonly matches: readonly Match[];
  readonly unmatchedPayments: readonly UnmatchedPayment[];
  readonly unpaidAccruals: readonly UnpaidAccrual[];
  readonly rejected: readonly RejectedRecord[];
  readonly stats: MatchStats;
}

export interface MatchOptions {
  readonly policy?: Policy;
  /** When set, matching is independent per value of this field (SPEC §3, partition field). */
  readonly partitionBy?: string;
  /**
   * An ISO 8601 period of whole years and/or months (`P3Y`, `P36M`, `P2Y6M`, SPEC §7): the
   * oldest-accrual step skips accruals time-barred at the payment. Absent: no limit.
   */
  readonly limitationPeriod?: string;
}
