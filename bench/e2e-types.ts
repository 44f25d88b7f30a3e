import type { PeakMethod } from './memory.js';

/** One end-to-end run of the matching job, split into phases (see bench/timed-deps.ts). */
export interface E2eRun {
  readonly totalMs: number;
  readonly readMs: number;
  readonly matchMs: number;
  readonly writeMs: number;
  readonly ledgerMs: number;
  /** The matcher's own `stats.durationMs` (its stopwatch pauses while waiting for input). */
  readonly matcherReportedMs: number;
  readonly baselineRssBytes: number;
  readonly peakRssBytes: number;
}

export interface E2eMeasurement {
  readonly size: number;
  readonly policy: string;
  readonly runs: readonly E2eRun[];
  /** The run with the median total time. */
  readonly median: E2eRun;
  readonly peakMethod: PeakMethod;
  readonly outputBytes: {
    readonly resultJson: number;
    readonly matchesCsv: number;
    readonly unmatchedPaymentsCsv: number;
  };
  readonly stats: { readonly accruals: number; readonly payments: number; readonly matched: number };
}
