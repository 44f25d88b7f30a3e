import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { BundleMeasurement } from './bundle-types.js';
import { buildFunctionBundles, functionNames, measureBundle } from './bundles.js';
import { REPO_ROOT, runChild } from './child-process.js';
import { COLD_REQUEST_FUNCTION, type ColdRequestMeasurement, measureColdRequest } from './cold-request.js';
import type { CoreKind, CoreMeasurement, ProfileSummary } from './core-types.js';
import { measureEndToEnd } from './e2e.js';
import type { E2eMeasurement } from './e2e-types.js';
import { type InitProfile, profileBundleImport } from './init-profile.js';
import { currentLoad, describeMachine } from './machine.js';
import type { BenchOptions } from './options.js';
import type { BenchReport } from './report-types.js';
import { measureActionsSummary } from './summary.js';

export type Progress = (line: string) => void;

/** A measurement child that takes longer than this is stuck (a full run takes a few minutes in all). */
const CHILD_TIMEOUT_MS = 5 * 60_000;

function coreArgs(kind: CoreKind, size: number, runs: number, seed: number): string[] {
  return [
    'bench/measure-core.ts',
    '--kind',
    kind,
    '--size',
    String(size),
    '--runs',
    String(runs),
    '--seed',
    String(seed),
  ];
}

async function measureCore(options: BenchOptions, progress: Progress): Promise<CoreMeasurement[]> {
  const plan: { kind: CoreKind; size: number }[] = [];
  const sizes = [...new Set([...options.sizes, ...options.naiveSizes])].sort((a, b) => a - b);
  for (const size of sizes) {
    if (options.sizes.includes(size))
      plan.push({ kind: 'chronological', size }, { kind: 'month-first', size });
    if (options.naiveSizes.includes(size)) plan.push({ kind: 'naive', size });
  }
  const results: CoreMeasurement[] = [];
  for (const { kind, size } of plan) {
    const measurement = await runChild<CoreMeasurement>(coreArgs(kind, size, options.runs, options.seed), {
      nodeFlags: ['--expose-gc'],
      timeoutMs: CHILD_TIMEOUT_MS,
    });
    progress(
      `core  ${kind.padEnd(13)} n=${String(size).padStart(8)}  median ${measurement.medianMs.toFixed(1)} ms` +
        `  floor ${measurement.floorMedianMs.toFixed(1)} ms`,
    );
    results.push(measurement);
  }
  return results;
}

async function profileWorst(
  options: BenchOptions,
  core: readonly CoreMeasurement[],
  scratch: string,
  progress: Progress,
): Promise<ProfileSummary | undefined> {
  const largest = Math.max(...options.sizes);
  const candidates = core.filter((m) => m.size === largest && m.kind !== 'naive');
  const worst = candidates.reduce<CoreMeasurement | undefined>(
    (a, b) => (a === undefined || b.medianMs > a.medianMs ? b : a),
    undefined,
  );
  if (worst === undefined) return undefined;
  const file = path.join(scratch, `${worst.kind}-${worst.size}.cpuprofile`);
  const summary = await runChild<ProfileSummary>(
    [...coreArgs(worst.kind, worst.size, 1, options.seed), '--profile', file],
    { nodeFlags: ['--expose-gc'], timeoutMs: CHILD_TIMEOUT_MS },
  );
  progress(`profile ${worst.kind} n=${worst.size}: ${file}`);
  return summary;
}

interface BundleResults {
  readonly bundles: BundleMeasurement[];
  readonly initProfile: InitProfile | undefined;
  readonly coldRequest: ColdRequestMeasurement | undefined;
}

async function measureBundles(options: BenchOptions, progress: Progress): Promise<BundleResults> {
  if (options.functions !== 'all' && options.functions.length === 0)
    return { bundles: [], initProfile: undefined, coldRequest: undefined };
  const names = options.functions === 'all' ? await functionNames(REPO_ROOT) : options.functions;
  const dir = await mkdtemp(path.join(os.tmpdir(), 'bench-bundles-'));
  try {
    const built = await buildFunctionBundles(REPO_ROOT, dir, names);
    const measured: BundleMeasurement[] = [];
    for (const bundle of built) {
      const m = await measureBundle(bundle, options.initRuns);
      progress(`bundle ${m.name}: ${(m.bytes / 1024).toFixed(0)} KiB, init ${m.initMedianMs.toFixed(0)} ms`);
      measured.push(m);
    }
    const slowest = measured.reduce<BundleMeasurement | undefined>(
      (a, b) => (a === undefined || b.initMedianMs > a.initMedianMs ? b : a),
      undefined,
    );
    const slowestBuilt = built.find((b) => b.name === slowest?.name);
    const initProfile =
      options.profile && slowestBuilt !== undefined ? await profileBundleImport(slowestBuilt) : undefined;
    if (initProfile !== undefined) progress(`profile import of ${initProfile.name}`);
    const coldBundle = built.find((b) => b.name === COLD_REQUEST_FUNCTION);
    const coldRequest =
      coldBundle === undefined ? undefined : await measureColdRequest(coldBundle, options.initRuns);
    if (coldRequest !== undefined)
      progress(
        `cold request ${coldRequest.name}: ${coldRequest.coldMedianMs.toFixed(0)} ms (init + first request)`,
      );
    return { bundles: measured, initProfile, coldRequest };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * Runs every measurement the options ask for, one child process at a time (never two at once:
 * they would compete for the cores), and returns the report. `profileDir` keeps the CPU profile.
 */
export async function runBenchSuite(
  options: BenchOptions,
  argv: readonly string[],
  progress: Progress,
  profileDir: string = os.tmpdir(),
): Promise<BenchReport> {
  const started = Date.now();
  const loadStart = currentLoad();
  const core = await measureCore(options, progress);
  const profile = options.profile ? await profileWorst(options, core, profileDir, progress) : undefined;
  let e2e: E2eMeasurement | undefined;
  if (options.e2eSize !== undefined) {
    e2e = await measureEndToEnd({
      size: options.e2eSize,
      runs: options.e2eRuns,
      seed: options.seed,
      policy: 'chronological',
    });
    progress(`e2e   n=${options.e2eSize}: median ${e2e.median.totalMs.toFixed(0)} ms`);
  }
  const summary = await measureActionsSummary(options, progress);
  const { bundles, initProfile, coldRequest } = await measureBundles(options, progress);
  return {
    mode: options.mode,
    argv,
    startedAt: new Date(started).toISOString(),
    durationS: (Date.now() - started) / 1000,
    machine: describeMachine(loadStart),
    seed: options.seed,
    core,
    profile,
    e2e,
    summary,
    bundles,
    initProfile,
    coldRequest,
  };
}
