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
  readonly durationMs: number;
}

/** The result document of SPEC §3, identical in S3, over HTTP and on the command line. */
export interface MatchResult {
  readonly runId: string;
  readonly policy: Policy;
  readonly generatedAt: string;
  readonly matches: readonly Match[];
  readonly unmatchedPayments: readonly OutputRecord[];
  readonly unpaidAccruals: readonly OutputRecord[];
  readonly rejected: readonly RejectedRecord[];
  readonly stats: MatchStats;
}

export interface MatchOptions {
  readonly policy?: Policy;
  /** When set, matching is independent per value of this field (SPEC §3, partition field). */
  readonly partitionBy?: string;
}
