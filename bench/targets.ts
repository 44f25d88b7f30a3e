import type { BundleMeasurement } from './bundle-types.js';
import type { CoreKind, CoreMeasurement } from './core-types.js';
import type { E2eMeasurement } from './e2e-types.js';
import { growthExponent, MIB } from './stats.js';

/** The targets of issue 4 on the 2-core build machine. */
export const TARGETS = {
  /** n = m at which the matcher targets apply. */
  matcherSize: 1e6,
  matcherMs: 1500,
  floorRatio: 6,
  peakAboveInputsBytes: 512 * MIB,
  /** Largest local exponent k (time ∝ n^k) between consecutive sizes: n·log n is about 1.1-1.2, quadratic 2. */
  timeGrowthExponent: 1.5,
  memoryGrowthExponent: 1.3,
  /** Steps whose smaller value is below these are noise-dominated and not judged. */
  growthMinMs: 5,
  growthMinBytes: 8 * MIB,
  e2eSize: 1e5,
  e2eMs: 10_000,
  bundleBytes: 1024 * 1024,
  initMs: 150,
} as const;

export type TargetStatus = 'pass' | 'fail' | 'not measured';

export interface TargetResult {
  readonly target: string;
  readonly measured: string;
  readonly status: TargetStatus;
}

/** One step between consecutive sizes of the same kind. */
export interface GrowthStep {
  readonly kind: CoreKind;
  readonly from: number;
  readonly to: number;
  readonly time: number;
  /** Undefined when the smaller peak is below {@link TARGETS.growthMinBytes}. */
  readonly memory: number | undefined;
  /** Whether the time step is large enough to judge. */
  readonly judgedTime: boolean;
}

export function peakAboveInputs(m: CoreMeasurement): number {
  return Math.max(0, m.peakRssBytes - m.baselineRssBytes);
}

export function growthSteps(core: readonly CoreMeasurement[]): GrowthStep[] {
  const steps: GrowthStep[] = [];
  const kinds = [...new Set(core.map((m) => m.kind))];
  for (const kind of kinds) {
    const rows = core.filter((m) => m.kind === kind).sort((a, b) => a.size - b.size);
    for (let i = 1; i < rows.length; i++) {
      const a = rows[i - 1] as CoreMeasurement;
      const b = rows[i] as CoreMeasurement;
      const memA = peakAboveInputs(a);
      const memB = peakAboveInputs(b);
      steps.push({
        kind,
        from: a.size,
        to: b.size,
        time: growthExponent(a.size, a.medianMs, b.size, b.medianMs),
        memory:
          memA >= TARGETS.growthMinBytes
            ? growthExponent(a.size, memA, b.size, Math.max(memB, 1))
            : undefined,
        judgedTime: a.medianMs >= TARGETS.growthMinMs,
      });
    }
  }
  return steps;
}

const ms = (value: number): string => `${Math.round(value).toLocaleString('en-US')} ms`;
const mib = (bytes: number): string => `${(bytes / MIB).toFixed(0)} MiB`;
const verdict = (ok: boolean): TargetStatus => (ok ? 'pass' : 'fail');

function matcherTargets(core: readonly CoreMeasurement[]): TargetResult[] {
  const results: TargetResult[] = [];
  for (const policy of ['chronological', 'month-first'] as const) {
    const m = core.find((row) => row.kind === policy && row.size === TARGETS.matcherSize);
    const label = `${policy}, n = m = 10^6`;
    if (m === undefined) {
      results.push(
        { target: `${label}: ≤ ${ms(TARGETS.matcherMs)}`, measured: '—', status: 'not measured' },
        { target: `${label}: ≤ ${TARGETS.floorRatio} × floor`, measured: '—', status: 'not measured' },
        { target: `${label}: peak RSS above inputs ≤ 512 MiB`, measured: '—', status: 'not measured' },
      );
      continue;
    }
    const ratio = m.medianMs / m.floorMedianMs;
    results.push(
      {
        target: `${label}: ≤ ${ms(TARGETS.matcherMs)}`,
        measured: `${ms(m.medianMs)} (matchRecords alone ${ms(m.matchMedianMs)})`,
        status: verdict(m.medianMs <= TARGETS.matcherMs),
      },
      {
        target: `${label}: ≤ ${TARGETS.floorRatio} × floor`,
        measured: `${ratio.toFixed(1)} × ${ms(m.floorMedianMs)} (matchRecords alone ${(m.matchMedianMs / m.floorMedianMs).toFixed(1)} ×)`,
        status: verdict(ratio <= TARGETS.floorRatio),
      },
      {
        target: `${label}: peak RSS above inputs ≤ 512 MiB`,
        measured: mib(peakAboveInputs(m)),
        status: verdict(peakAboveInputs(m) <= TARGETS.peakAboveInputsBytes),
      },
    );
  }
  return results;
}

function growthTarget(core: readonly CoreMeasurement[]): TargetResult {
  const steps = growthSteps(core).filter((s) => s.kind !== 'naive');
  const judged = steps.filter((s) => s.judgedTime);
  if (judged.length === 0) {
    return { target: 'growth n·log n (time) and n (memory)', measured: '—', status: 'not measured' };
  }
  const worstTime = Math.max(...judged.map((s) => s.time));
  const memorySteps = steps.flatMap((s) => (s.memory === undefined ? [] : [s.memory]));
  const worstMemory = memorySteps.length > 0 ? Math.max(...memorySteps) : undefined;
  const ok =
    worstTime <= TARGETS.timeGrowthExponent &&
    (worstMemory === undefined || worstMemory <= TARGETS.memoryGrowthExponent);
  return {
    target: `growth: time exponent ≤ ${TARGETS.timeGrowthExponent}, memory exponent ≤ ${TARGETS.memoryGrowthExponent} between consecutive sizes (no quadratic step)`,
    measured: `worst time k = ${worstTime.toFixed(2)}, worst memory k = ${worstMemory === undefined ? '—' : worstMemory.toFixed(2)}`,
    status: verdict(ok),
  };
}

function e2eTarget(e2e: E2eMeasurement | undefined): TargetResult {
  const target = `end to end, 10^5 × 10^5: ≤ ${ms(TARGETS.e2eMs)}`;
  if (e2e === undefined || e2e.size !== TARGETS.e2eSize)
    return { target, measured: '—', status: 'not measured' };
  return { target, measured: ms(e2e.median.totalMs), status: verdict(e2e.median.totalMs <= TARGETS.e2eMs) };
}

function bundleTargets(bundles: readonly BundleMeasurement[]): TargetResult[] {
  if (bundles.length === 0) {
    return [
      { target: 'each bundle ≤ 1 MiB minified', measured: '—', status: 'not measured' },
      { target: `each init ≤ ${ms(TARGETS.initMs)} median`, measured: '—', status: 'not measured' },
    ];
  }
  const largest = bundles.reduce((a, b) => (b.bytes > a.bytes ? b : a));
  const slowest = bundles.reduce((a, b) => (b.initMedianMs > a.initMedianMs ? b : a));
  const overInit = bundles.filter((b) => b.initMedianMs > TARGETS.initMs).map((b) => b.name);
  return [
    {
      target: 'each bundle ≤ 1 MiB minified',
      measured: `largest ${largest.name} ${(largest.bytes / 1024).toFixed(0)} KiB`,
      status: verdict(bundles.every((b) => b.bytes <= TARGETS.bundleBytes)),
    },
    {
      target: `each init ≤ ${ms(TARGETS.initMs)} median (as deployed, --enable-source-maps)`,
      measured: `slowest ${slowest.name} ${ms(slowest.initMedianMs)}${overInit.length > 0 ? `; over: ${overInit.join(', ')}` : ''}`,
      status: verdict(overInit.length === 0),
    },
  ];
}

/** Every target of issue 4 with what was measured and pass / fail / not measured. */
export function evaluateTargets(
  core: readonly CoreMeasurement[],
  e2e: E2eMeasurement | undefined,
  bundles: readonly BundleMeasurement[],
): TargetResult[] {
  return [...matcherTargets(core), growthTarget(core), e2eTarget(e2e), ...bundleTargets(bundles)];
}
