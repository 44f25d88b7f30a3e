/**
 * Child process: one core measurement (`chronological`, `month-first` or `naive`) at one size.
 * Started by bench/run.ts as `node --expose-gc --import tsx bench/measure-core.ts --kind K --size N
 * --runs R --seed S [--profile FILE]`; reports a CoreMeasurement (or, with --profile, a
 * ProfileSummary of one profiled run).
 *
 * Order inside the process: generate inputs and the floor's keys → warm up on a small separate
 * input → collect the heap, reset the peak and take the baseline RSS → R times: collect the heap,
 * one floor sort, one timed run → read the peak.
 */
import { parseArgs } from 'node:util';
import { matchPayments } from '../lib/matching/index.js';
import { emitResult } from './child-process.js';
import { consumeNaive, consumeOutcome } from './consume.js';
import {
  CORE_KINDS,
  type CoreCounts,
  type CoreKind,
  type CoreMeasurement,
  type ProfileSummary,
} from './core-types.js';
import { PROFILE_INTERVAL_US, profileDurationMs, profiled, saveProfile, topSelfTime } from './cpu-profile.js';
import { SortFloor } from './floor.js';
import { generateMatchingInputs, type MatchingInputs } from './inputs.js';
import { PeakRss, residentBytes, settleHeap } from './memory.js';
import { matchNaive } from './naive-match.js';
import { median } from './stats.js';

const WARM_UP_SIZE = 2000;
const WARM_UP_RUNS = 3;

interface TimedRun {
  readonly matchMs: number;
  readonly totalMs: number;
  readonly cpuMs: number;
  readonly counts: CoreCounts;
}

function cpuMsSince(start: NodeJS.CpuUsage): number {
  const used = process.cpuUsage(start);
  return (used.user + used.system) / 1000;
}

async function timedRun(kind: CoreKind, inputs: MatchingInputs): Promise<TimedRun> {
  const cpu = process.cpuUsage();
  const start = performance.now();
  if (kind === 'naive') {
    const outcome = matchNaive(inputs.accruals, inputs.payments);
    const matched = performance.now();
    const counts = consumeNaive(outcome);
    return { matchMs: matched - start, totalMs: performance.now() - start, cpuMs: cpuMsSince(cpu), counts };
  }
  const outcome = await matchPayments(inputs.accruals, inputs.payments, { policy: kind });
  const matched = performance.now();
  const counts = consumeOutcome(outcome);
  return { matchMs: matched - start, totalMs: performance.now() - start, cpuMs: cpuMsSince(cpu), counts };
}

function parseKind(value: string | undefined): CoreKind {
  const kind = CORE_KINDS.find((k) => k === value);
  if (kind === undefined) throw new Error(`--kind must be one of ${CORE_KINDS.join(', ')}`);
  return kind;
}

function nonNegative(value: string | undefined, name: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new Error(`--${name} must be a non-negative integer`);
  return n;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      kind: { type: 'string' },
      size: { type: 'string' },
      runs: { type: 'string', default: '3' },
      seed: { type: 'string', default: '1' },
      profile: { type: 'string' },
    },
  });
  const kind = parseKind(values.kind);
  const size = nonNegative(values.size, 'size');
  const runs = Math.max(1, nonNegative(values.runs, 'runs'));
  const seed = nonNegative(values.seed, 'seed');

  const generateStart = performance.now();
  const inputs = generateMatchingInputs(size, seed);
  const generateMs = performance.now() - generateStart;

  const warmUp = generateMatchingInputs(Math.min(size, WARM_UP_SIZE), seed + 1000);
  for (let i = 0; i < WARM_UP_RUNS; i++) await timedRun(kind, warmUp);

  if (values.profile !== undefined) {
    settleHeap();
    const { result, profile } = await profiled(() => timedRun(kind, inputs));
    await saveProfile(profile, values.profile);
    const summary: ProfileSummary = {
      kind,
      size,
      totalMs: result.totalMs,
      sampleIntervalUs: PROFILE_INTERVAL_US,
      file: values.profile,
      top: topSelfTime(profile, 15),
    };
    if (profileDurationMs(profile) <= 0) throw new Error('empty CPU profile');
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
    results.push(await timedRun(kind, inputs));
  }
  const peakRssBytes = peak.peakBytes();

  const first = results[0] as TimedRun;
  const measurement: CoreMeasurement = {
    kind,
    size,
    seed,
    runsMs: results.map((r) => r.totalMs),
    medianMs: median(results.map((r) => r.totalMs)),
    matchMedianMs: median(results.map((r) => r.matchMs)),
    outputMedianMs: median(results.map((r) => r.totalMs - r.matchMs)),
    cpuMedianMs: median(results.map((r) => r.cpuMs)),
    floorRunsMs,
    floorMedianMs: median(floorRunsMs),
    generateMs,
    baselineRssBytes,
    peakRssBytes,
    peakMethod: peak.method,
    counts: first.counts,
  };
  // Keep the inputs alive to the end: the baseline counted them, the peak must too.
  if (inputs.accruals.length !== size) throw new Error('inputs changed during the runs');
  emitResult(measurement);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
