import type { PeakMethod } from './memory.js';

/** What is measured at one input size: the matcher under one policy, or the naive baseline. */
export const CORE_KINDS = ['chronological', 'month-first', 'naive'] as const;
export type CoreKind = (typeof CORE_KINDS)[number];

/** The counts every kind reports, to cross-check the naive baseline against `chronological`. */
export interface CoreCounts {
  readonly matched: number;
  readonly sameMonth: number;
  readonly unmatched: number;
  readonly unpaid: number;
}

/** One fresh-process measurement (bench/measure-core.ts). */
export interface CoreMeasurement {
  readonly kind: CoreKind;
  /** n = m. */
  readonly size: number;
  readonly seed: number;
  /** Wall time of each timed run: match + build the result. */
  readonly runsMs: readonly number[];
  readonly medianMs: number;
  /** Medians of the two timed parts: the matcher call, then walking every output record. */
  readonly matchMedianMs: number;
  readonly outputMedianMs: number;
  /**
   * Median CPU time (user + system, all threads: GC helpers included) of the same runs. Less
   * sensitive than wall time to other processes competing for the cores.
   */
  readonly cpuMedianMs: number;
  /** Typed-array sort of 2·size random keys, same process, one right before each timed run. */
  readonly floorRunsMs: readonly number[];
  readonly floorMedianMs: number;
  readonly generateMs: number;
  /** RSS with the inputs generated and the heap collected, before the timed runs. */
  readonly baselineRssBytes: number;
  /** Highest RSS during the timed runs. */
  readonly peakRssBytes: number;
  readonly peakMethod: PeakMethod;
  readonly counts: CoreCounts;
}

/** A CPU profile of one timed run, reduced to its top self-time functions. */
export interface ProfileSummary {
  readonly kind: CoreKind;
  readonly size: number;
  readonly totalMs: number;
  readonly sampleIntervalUs: number;
  /** Where the full `.cpuprofile` was written (open it in Chrome DevTools). */
  readonly file: string;
  readonly top: readonly { readonly name: string; readonly location: string; readonly selfMs: number }[];
}
