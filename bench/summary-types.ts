/**
 * The actions-summary measurement: `per-session` is the pipeline of lib/summary/,
 * `flattening` the baseline of bench/flatten-summary.ts (all sessions' actions concatenated first).
 */
export const SUMMARY_PIPELINES = ['per-session', 'flattening'] as const;
export type SummaryPipeline = (typeof SUMMARY_PIPELINES)[number];

/** One `{ type, last, count }` of a summary, `last` as an ISO string so results compare as JSON. */
export interface SummaryEntry {
  readonly type: string;
  readonly last: string | null;
  readonly count: number;
}

/** One fresh-process measurement (bench/measure-summary.ts): one account, one pipeline. */
export interface SummaryMeasurement {
  readonly pipeline: SummaryPipeline;
  readonly sessions: number;
  readonly actionsPerSession: number;
  readonly seed: number;
  /** Timed runs asked for; fewer were made when the first was slow (`SUMMARY_SHAPE.slowRunMs`). */
  readonly maxRuns: number;
  /** Wall time of each timed `aggregate` up to the summary document. */
  readonly runsMs: readonly number[];
  readonly medianMs: number;
  /** Building the account document (not timed with the runs). */
  readonly generateMs: number;
  /** What the pipeline returned, to cross-check the two pipelines. */
  readonly summary: readonly SummaryEntry[];
}
