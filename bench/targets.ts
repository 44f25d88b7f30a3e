import type { BundleMeasurement } from './bundles.js';
import type { CoreKind, CoreMeasurement } from './measure-core.js';
import type { E2eMeasurement } from './measure-e2e.js';
import type { LookupMeasurement } from './measure-lookup.js';
import type { ShardsMeasurement } from './measure-shards.js';

export const MIB = 1024 * 1024;

/** The targets on the 2-core build machine. */
export const TARGETS = {
  /** n = m at which the matcher targets apply. */
  matcherSize: 1e6,
  matcherMs: 1500,
  /** Matcher time at most this many times the sort floor measured in the same process. */
  floorRatio: 3,
  peakAboveInputsBytes: 512 * MIB,
  /** Largest local exponent k (time ∝ n^k) between consecutive sizes: n·log n is about 1.1-1.2, quadratic 2. */
  timeGrowthExponent: 1.5,
  memoryGrowthExponent: 1.3,
  /** Steps whose smaller value is below these are dominated by fixed costs and not judged. */
  growthMinMs: 5,
  growthMinBytes: 8 * MIB,
  e2eSize: 1e5,
  e2eMs: 10_000,
  /** Partition lookups of a run of this size over this many partitions: bytes read and median latency. */
  lookupSize: 1e6,
  lookupPartitions: 1e5,
  lookupBytes: 1024 * 1024,
  lookupMs: 200,
  /** Sharded run: plan + slowest shard + merge at most this share of the unsharded run's time. */
  shardsCriticalShare: 0.5,
  bundleBytes: 1024 * 1024,
  initMs: 150,
} as const;

/** Median of a non-empty list (mean of the two middle values for an even count). */
export function median(values: readonly number[]): number {
  if (values.length === 0) throw new RangeError('median of an empty list');
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

/** `k` in `y ∝ n^k` between two measurements: about 1.1 for n·log n over a decade, 2 for quadratic. */
export function growthExponent(n1: number, y1: number, n2: number, y2: number): number {
  return Math.log(y2 / y1) / Math.log(n2 / n1);
}

export function peakAboveInputs(m: CoreMeasurement): number {
  return Math.max(0, m.peakRssBytes - m.baselineRssBytes);
}

/** One step between consecutive sizes of the same kind; undefined exponents are too small to judge. */
export interface GrowthStep {
  readonly kind: CoreKind;
  readonly from: number;
  readonly to: number;
  readonly time: number | undefined;
  readonly memory: number | undefined;
}

export function growthSteps(core: readonly CoreMeasurement[]): GrowthStep[] {
  return core.flatMap((b) => {
    const smaller = core.filter((m) => m.kind === b.kind && m.size < b.size);
    const a = smaller.reduce<CoreMeasurement | undefined>(
      (x, m) => (x && x.size > m.size ? x : m),
      undefined,
    );
    if (a === undefined) return [];
    const memA = peakAboveInputs(a);
    return [
      {
        kind: b.kind,
        from: a.size,
        to: b.size,
        time:
          a.medianMs >= TARGETS.growthMinMs
            ? growthExponent(a.size, a.medianMs, b.size, b.medianMs)
            : undefined,
        memory:
          memA >= TARGETS.growthMinBytes
            ? growthExponent(a.size, memA, b.size, Math.max(peakAboveInputs(b), 1))
            : undefined,
      },
    ];
  });
}

export interface TargetResult {
  readonly target: string;
  readonly measured: string;
  readonly status: 'pass' | 'fail' | 'not measured';
}

const ms = (value: number): string => `${Math.round(value).toLocaleString('en-US')} ms`;
const result = (target: string, measured: string, ok: boolean): TargetResult => ({
  target,
  measured,
  status: ok ? 'pass' : 'fail',
});
const notMeasured = (target: string): TargetResult => ({ target, measured: '—', status: 'not measured' });

function matcherTargets(core: readonly CoreMeasurement[]): TargetResult[] {
  return (['chronological', 'month-first'] as const).flatMap((policy) => {
    const label = `${policy}, n = m = 10^6`;
    const targets = [
      `${label}: ≤ ${ms(TARGETS.matcherMs)}`,
      `${label}: ≤ ${TARGETS.floorRatio} × sort floor`,
      `${label}: peak RSS above inputs ≤ ${TARGETS.peakAboveInputsBytes / MIB} MiB`,
    ] as const;
    const m = core.find((row) => row.kind === policy && row.size === TARGETS.matcherSize);
    if (m === undefined) return targets.map(notMeasured);
    const ratio = m.medianMs / m.floorMedianMs;
    const peak = peakAboveInputs(m);
    return [
      result(targets[0], ms(m.medianMs), m.medianMs <= TARGETS.matcherMs),
      result(targets[1], `${ratio.toFixed(1)} × ${ms(m.floorMedianMs)}`, ratio <= TARGETS.floorRatio),
      result(targets[2], `${(peak / MIB).toFixed(0)} MiB`, peak <= TARGETS.peakAboveInputsBytes),
    ];
  });
}

function growthTarget(core: readonly CoreMeasurement[]): TargetResult {
  const target = `growth: time exponent ≤ ${TARGETS.timeGrowthExponent}, memory exponent ≤ ${TARGETS.memoryGrowthExponent} between consecutive sizes`;
  const steps = growthSteps(core).filter((s) => s.kind !== 'naive');
  const worst = (values: (number | undefined)[]): number | undefined => {
    const judged = values.filter((v) => v !== undefined);
    return judged.length === 0 ? undefined : Math.max(...judged);
  };
  const time = worst(steps.map((s) => s.time));
  const memory = worst(steps.map((s) => s.memory));
  if (time === undefined) return notMeasured(target);
  return result(
    target,
    `worst time k = ${time.toFixed(2)}, worst memory k = ${memory?.toFixed(2) ?? '—'}`,
    time <= TARGETS.timeGrowthExponent && (memory === undefined || memory <= TARGETS.memoryGrowthExponent),
  );
}

/** Every target with what was measured and pass / fail / not measured. */
export function evaluateTargets(
  core: readonly CoreMeasurement[],
  e2e: E2eMeasurement | undefined,
  bundles: readonly BundleMeasurement[],
  lookup?: LookupMeasurement,
  shards?: ShardsMeasurement,
): TargetResult[] {
  const e2eLabel = `end to end, 10^5 × 10^5: ≤ ${ms(TARGETS.e2eMs)}`;
  const bundleLabel = `each bundle ≤ ${TARGETS.bundleBytes / MIB} MiB minified`;
  const initLabel = `each init ≤ ${ms(TARGETS.initMs)} median (as deployed, --enable-source-maps)`;
  const largest = bundles.reduce<BundleMeasurement | undefined>(
    (a, b) => (a && a.bytes >= b.bytes ? a : b),
    undefined,
  );
  const slowest = bundles.reduce<BundleMeasurement | undefined>(
    (a, b) => (a && a.initMedianMs >= b.initMedianMs ? a : b),
    undefined,
  );
  const overInit = bundles.filter((b) => b.initMedianMs > TARGETS.initMs).map((b) => b.name);
  return [
    ...matcherTargets(core),
    growthTarget(core),
    e2e?.size === TARGETS.e2eSize
      ? result(e2eLabel, ms(e2e.median.totalMs), e2e.median.totalMs <= TARGETS.e2eMs)
      : notMeasured(e2eLabel),
    ...lookupTargets(lookup),
    largest === undefined
      ? notMeasured(bundleLabel)
      : result(
          bundleLabel,
          `largest ${largest.name} ${(largest.bytes / 1024).toFixed(0)} KiB`,
          largest.bytes <= TARGETS.bundleBytes,
        ),
    slowest === undefined
      ? notMeasured(initLabel)
      : result(
          initLabel,
          `slowest ${slowest.name} ${ms(slowest.initMedianMs)}${overInit.length > 0 ? `; over: ${overInit.join(', ')}` : ''}`,
          overInit.length === 0,
        ),
    ...shardsTargets(shards),
  ];
}

/** Plan + slowest shard + merge: the run's wall time if every shard ran at once, each on a Lambda of its own. */
export function criticalPathMs(s: ShardsMeasurement): number {
  return s.plan.ms + Math.max(...s.shards.map((shard) => shard.ms)) + s.merge.ms;
}

function shardsTargets(s: ShardsMeasurement | undefined): TargetResult[] {
  const same = 'sharded run: merged CSV tables byte for byte the unsharded run’s';
  const critical = `sharded run: plan + slowest shard + merge ≤ ${TARGETS.shardsCriticalShare} × the unsharded run`;
  if (s === undefined) return [notMeasured(same), notMeasured(critical)];
  const path = criticalPathMs(s);
  return [
    result(same, Object.keys(s.identical).join(', '), Object.keys(s.identical).length === 3),
    result(
      critical,
      `${ms(path)} vs ${ms(s.unsharded.ms)} (${s.size.toLocaleString('en-US')} records, ${s.shards.length} shards)`,
      path <= TARGETS.shardsCriticalShare * s.unsharded.ms,
    ),
  ];
}

function lookupTargets(lookup: LookupMeasurement | undefined): TargetResult[] {
  const run = 'partition lookup, 10^6 × 10^6 over 10^5 partitions';
  const bytesLabel = `${run}: each reads ≤ ${TARGETS.lookupBytes / MIB} MiB from S3`;
  const msLabel = `${run}: median ≤ ${ms(TARGETS.lookupMs)} against the emulators`;
  if (lookup?.size !== TARGETS.lookupSize || lookup.partitions !== TARGETS.lookupPartitions) {
    return [notMeasured(bytesLabel), notMeasured(msLabel)];
  }
  return [
    result(
      bytesLabel,
      `at most ${(lookup.bytes.max / 1024).toFixed(0)} KiB (median ${(lookup.bytes.median / 1024).toFixed(0)} KiB)`,
      lookup.bytes.max <= TARGETS.lookupBytes,
    ),
    result(
      msLabel,
      `${lookup.service.medianMs.toFixed(1)} ms (p95 ${lookup.service.p95Ms.toFixed(0)} ms)`,
      lookup.service.medianMs <= TARGETS.lookupMs,
    ),
  ];
}
