import { isDeepStrictEqual } from 'node:util';
import { runChild } from './child-process.js';
import type { BenchOptions } from './options.js';
import { growthExponent } from './stats.js';
import { SUMMARY_SHAPE } from './summary-inputs.js';
import type { SummaryMeasurement, SummaryPipeline } from './summary-types.js';

/** A summary child that takes longer than this is stuck (the slowest run is about 20 s). */
const CHILD_TIMEOUT_MS = 5 * 60_000;

/** One account shape: `sessions` sessions of `actionsPerSession` actions. */
export interface SummaryShape {
  readonly sessions: number;
  readonly actionsPerSession: number;
}

/** One step between consecutive numbers of sessions of the same pipeline (same actions per session). */
export interface SummaryGrowthStep {
  readonly pipeline: SummaryPipeline;
  readonly actionsPerSession: number;
  readonly from: number;
  readonly to: number;
  /** `k` in time ∝ sessions^k. */
  readonly time: number;
}

const PIPELINE_ORDER: readonly SummaryPipeline[] = ['per-session', 'flattening'];

/** The account shapes the options ask for: sessions ascending, then the one-session control. */
export function summaryShapes(
  options: Pick<BenchOptions, 'summarySessions' | 'summaryControlActions'>,
): SummaryShape[] {
  const shapes: SummaryShape[] = options.summarySessions.map((sessions) => ({
    sessions,
    actionsPerSession: SUMMARY_SHAPE.actionsPerSession,
  }));
  const control = options.summaryControlActions;
  if (control !== undefined && !shapes.some((s) => s.sessions === 1 && s.actionsPerSession === control)) {
    shapes.push({ sessions: 1, actionsPerSession: control });
  }
  return shapes;
}

export function shapeLabel(shape: SummaryShape): string {
  return `${shape.sessions.toLocaleString('en-US')} × ${shape.actionsPerSession.toLocaleString('en-US')}`;
}

const sameShape = (a: SummaryShape, b: SummaryShape): boolean =>
  a.sessions === b.sessions && a.actionsPerSession === b.actionsPerSession;

/**
 * The shapes at which both pipelines were measured, and whether they returned the same summary.
 * Shapes measured by one pipeline only are left out.
 */
export function summaryAgreement(
  measurements: readonly SummaryMeasurement[],
): { readonly shape: SummaryShape; readonly same: boolean }[] {
  const results: { shape: SummaryShape; same: boolean }[] = [];
  for (const current of measurements.filter((m) => m.pipeline === 'per-session')) {
    const baseline = measurements.find((m) => m.pipeline === 'flattening' && sameShape(m, current));
    if (baseline === undefined) continue;
    results.push({
      shape: { sessions: current.sessions, actionsPerSession: current.actionsPerSession },
      same: isDeepStrictEqual(current.summary, baseline.summary),
    });
  }
  return results;
}

export function summaryGrowthSteps(measurements: readonly SummaryMeasurement[]): SummaryGrowthStep[] {
  const steps: SummaryGrowthStep[] = [];
  for (const pipeline of PIPELINE_ORDER) {
    const ofPipeline = measurements.filter((m) => m.pipeline === pipeline);
    for (const actionsPerSession of new Set(ofPipeline.map((m) => m.actionsPerSession))) {
      const rows = ofPipeline
        .filter((m) => m.actionsPerSession === actionsPerSession)
        .sort((a, b) => a.sessions - b.sessions);
      for (let i = 1; i < rows.length; i++) {
        const a = rows[i - 1] as SummaryMeasurement;
        const b = rows[i] as SummaryMeasurement;
        steps.push({
          pipeline,
          actionsPerSession,
          from: a.sessions,
          to: b.sessions,
          time: growthExponent(a.sessions, a.medianMs, b.sessions, b.medianMs),
        });
      }
    }
  }
  return steps;
}

/** Same order as the report: shapes as planned, the current pipeline before the baseline. */
export function orderSummaryMeasurements(measurements: readonly SummaryMeasurement[]): SummaryMeasurement[] {
  const controlLast = (m: SummaryMeasurement): number =>
    m.actionsPerSession === SUMMARY_SHAPE.actionsPerSession ? 0 : 1;
  return [...measurements].sort(
    (a, b) =>
      controlLast(a) - controlLast(b) ||
      a.actionsPerSession - b.actionsPerSession ||
      a.sessions - b.sessions ||
      PIPELINE_ORDER.indexOf(a.pipeline) - PIPELINE_ORDER.indexOf(b.pipeline),
  );
}

function summaryArgs(pipeline: SummaryPipeline, shape: SummaryShape, runs: number, seed: number): string[] {
  return [
    'bench/measure-summary.ts',
    '--pipeline',
    pipeline,
    '--sessions',
    String(shape.sessions),
    '--actions',
    String(shape.actionsPerSession),
    '--runs',
    String(runs),
    '--seed',
    String(seed),
  ];
}

/**
 * The actions-summary section: for each account shape, the pipeline of lib/summary/ and
 * then the flattening baseline, each in a fresh process on the same generated account. Throws as
 * soon as the two return different summaries.
 */
export async function measureActionsSummary(
  options: BenchOptions,
  progress: (line: string) => void,
): Promise<SummaryMeasurement[]> {
  const results: SummaryMeasurement[] = [];
  for (const shape of summaryShapes(options)) {
    const measured: SummaryMeasurement[] = [];
    for (const pipeline of PIPELINE_ORDER) {
      const m = await runChild<SummaryMeasurement>(
        summaryArgs(pipeline, shape, options.summaryRuns, options.seed),
        { nodeFlags: ['--expose-gc'], timeoutMs: CHILD_TIMEOUT_MS },
      );
      progress(
        `summary ${pipeline.padEnd(11)} ${shapeLabel(shape).padStart(16)}  median ${m.medianMs.toFixed(0)} ms` +
          ` (${m.runsMs.length} run${m.runsMs.length === 1 ? '' : 's'})`,
      );
      measured.push(m);
    }
    for (const { same } of summaryAgreement(measured)) {
      if (!same) {
        throw new Error(
          `actions summary ${shapeLabel(shape)}: the pipelines disagree: ` +
            measured.map((m) => `${m.pipeline} ${JSON.stringify(m.summary)}`).join('; '),
        );
      }
    }
    results.push(...measured);
  }
  return results;
}
