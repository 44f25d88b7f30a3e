/**
 * Child process: one matcher measurement at one size, started by bench/run.ts as
 * `node --expose-gc --import tsx bench/measure-core.ts --kind K --size N --runs R --seed S
 * --batch-size B [--profile FILE]`. Reports a CoreMeasurement, or with --profile a ProfileSummary
 * of one profiled run.
 *
 * Order: generate the inputs and the floor's keys → warm up on a small separate input → collect
 * the heap, reset the peak and take the baseline RSS → R times: collect the heap, one floor sort,
 * one timed run → read the peak.
 */
import { parseArgs } from 'node:util';
import { type MatchOutcome, matchPayments } from '../lib/matching/index.js';
import { emitResult } from './child-process.js';
import { profiled, type SelfTime, saveProfile, topSelfTime } from './cpu-profile.js';
import { ModelCursor } from './cursor.js';
import { SortFloor } from './floor.js';
import { generateMatchingInputs, type MatchingInputs } from './inputs.js';
import { PeakRss, residentBytes, settleHeap } from './memory.js';
import { matchNaive } from './naive-match.js';
import { median } from './targets.js';

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

export interface CoreMeasurement {
  readonly kind: CoreKind;
  /** n = m. */
  readonly size: number;
  /** Wall time of each timed run: `matchPayments` over two cursors, then the walk over every output record. */
  readonly runsMs: readonly number[];
  readonly medianMs: number;
  /** Medians of the two parts: until `matchPayments` resolved, then the walk. */
  readonly matchMedianMs: number;
  readonly outputMedianMs: number;
  /** CPU time (user + system, GC threads included) of the same runs: less sensitive to other load. */
  readonly cpuMedianMs: number;
  /** Typed-array sort of 2·size random keys, one right before each timed run. */
  readonly floorMedianMs: number;
  /** RSS with the inputs generated and the heap collected, before the timed runs. */
  readonly baselineRssBytes: number;
  /** Highest RSS during the timed runs. */
  readonly peakRssBytes: number;
  readonly peakMethod: string;
  readonly counts: CoreCounts;
}

export interface ProfileSummary {
  readonly kind: CoreKind;
  readonly size: number;
  readonly totalMs: number;
  /** The full `.cpuprofile` (open it in Chrome DevTools). */
  readonly file: string;
  readonly top: readonly SelfTime[];
}

const WARM_UP_SIZE = 2000;
const WARM_UP_RUNS = 3;

interface TimedRun {
  readonly matchMs: number;
  readonly totalMs: number;
  readonly cpuMs: number;
  readonly counts: CoreCounts;
}

/**
 * Walks every output record, as serialising the result does (the outcome builds them on
 * demand), touching a field of each so nothing can be skipped, and checks the walk against the stats.
 */
function walkOutcome(outcome: MatchOutcome): CoreCounts {
  const seen = { matched: 0, sameMonth: 0, unmatched: 0, unpaid: 0, rejected: 0 };
  let touched = 0;
  for (const match of outcome.matches()) {
    seen.matched++;
    if (match.rule === 'same-month') seen.sameMonth++;
    touched += match.payment.date.length + match.accrual.date.length;
  }
  for (const payment of outcome.unmatchedPayments()) {
    seen.unmatched++;
    touched += payment.date.length;
  }
  for (const accrual of outcome.unpaidAccruals()) {
    seen.unpaid++;
    touched += accrual.date.length;
  }
  for (const entry of outcome.rejected()) {
    seen.rejected++;
    touched += entry.reason.length;
  }
  const { matched, sameMonth, unmatched, unpaid, rejected } = outcome.stats;
  const stats = { matched, sameMonth, unmatched, unpaid, rejected };
  if (JSON.stringify(seen) !== JSON.stringify(stats) || (touched === 0 && matched > 0)) {
    throw new Error(
      `outcome disagrees with its stats: walked ${JSON.stringify(seen)}, stats ${JSON.stringify(stats)}`,
    );
  }
  return { matched, sameMonth, unmatched, unpaid };
}

async function timedRun(kind: CoreKind, inputs: MatchingInputs, batchSize: number): Promise<TimedRun> {
  const cpu = process.cpuUsage();
  const start = performance.now();
  let matched: number;
  let counts: CoreCounts;
  if (kind === 'naive') {
    counts = matchNaive(inputs.accruals, inputs.payments).stats;
    matched = performance.now();
  } else {
    const outcome = await matchPayments(
      new ModelCursor(inputs.accruals, batchSize),
      new ModelCursor(inputs.payments, batchSize),
      { policy: kind },
    );
    matched = performance.now();
    counts = walkOutcome(outcome);
  }
  const end = performance.now();
  const used = process.cpuUsage(cpu);
  return { matchMs: matched - start, totalMs: end - start, cpuMs: (used.user + used.system) / 1000, counts };
}

function count(value: string | undefined, name: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a positive integer`);
  return n;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      kind: { type: 'string' },
      size: { type: 'string' },
      runs: { type: 'string' },
      seed: { type: 'string' },
      'batch-size': { type: 'string' },
      profile: { type: 'string' },
    },
  });
  const kind = CORE_KINDS.find((k) => k === values.kind);
  if (kind === undefined) throw new Error(`--kind must be one of ${CORE_KINDS.join(', ')}`);
  const size = count(values.size, 'size');
  const runs = count(values.runs, 'runs');
  const seed = count(values.seed, 'seed');
  const batchSize = count(values['batch-size'], 'batch-size');

  const inputs = generateMatchingInputs(size, seed);
  const warmUp = generateMatchingInputs(Math.min(size, WARM_UP_SIZE), seed + 1000);
  for (let i = 0; i < WARM_UP_RUNS; i++) await timedRun(kind, warmUp, batchSize);

  if (values.profile !== undefined) {
    settleHeap();
    const { result, profile } = await profiled(() => timedRun(kind, inputs, batchSize));
    await saveProfile(profile, values.profile);
    const summary: ProfileSummary = {
      kind,
      size,
      totalMs: result.totalMs,
      file: values.profile,
      top: topSelfTime(profile, 15),
    };
    emitResult(summary);
    return;
  }

  const floor = new SortFloor(2 * size, seed + 2000);
  floor.measure();
  settleHeap();
  const peak = new PeakRss();
  // Reset first: the window then contains the baseline reading, so the peak can never be below it.
  peak.reset();
  const baselineRssBytes = residentBytes();
  const results: TimedRun[] = [];
  const floorRunsMs: number[] = [];
  for (let run = 0; run < runs; run++) {
    settleHeap();
    // Back to back, so a burst of other load on the machine tends to hit both alike.
    floorRunsMs.push(floor.measure());
    results.push(await timedRun(kind, inputs, batchSize));
  }
  const peakRssBytes = peak.peakBytes();
  // Keep the inputs alive to the end: the baseline counted them, the peak must too.
  if (inputs.accruals.length !== size) throw new Error('inputs changed during the runs');
  const measurement: CoreMeasurement = {
    kind,
    size,
    runsMs: results.map((r) => r.totalMs),
    medianMs: median(results.map((r) => r.totalMs)),
    matchMedianMs: median(results.map((r) => r.matchMs)),
    outputMedianMs: median(results.map((r) => r.totalMs - r.matchMs)),
    cpuMedianMs: median(results.map((r) => r.cpuMs)),
    floorMedianMs: median(floorRunsMs),
    baselineRssBytes,
    peakRssBytes,
    peakMethod: peak.method,
    counts: (results[0] as TimedRun).counts,
  };
  emitResult(measurement);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
