import { createWriteStream } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { type BundleMeasurement, buildFunctionBundles, functionNames, measureBundle } from './bundles.js';
import { REPO_ROOT, runChild, startServiceChild } from './child-process.js';
import { type CliMeasurement, measureCommandLine } from './cli.js';
import { COLD_REQUEST_FUNCTION, type ColdRequestMeasurement, measureColdRequest } from './cold-request.js';
import { type InitProfile, profileBundleImport } from './init-profile.js';
import { createRandom, generateMatchingInputs, generateSide, type MatchingRecord } from './inputs.js';
import type { CoreKind, CoreMeasurement, ProfileSummary } from './measure-core.js';
import type { CursorRateMeasurement } from './measure-cursor-rate.js';
import type { E2eMeasurement } from './measure-e2e.js';
import type { LookupMeasurement } from './measure-lookup.js';
import type { ShardsMeasurement } from './measure-shards.js';
import type { SummaryMeasurement, SummaryPipeline } from './measure-summary.js';
import type { BenchOptions } from './options.js';
import { SUMMARY_SHAPE } from './summary-inputs.js';

/** Everything one `npm run bench` measured. */
export interface BenchResults {
  readonly options: BenchOptions;
  readonly startedAt: Date;
  readonly durationS: number;
  /** 1-minute load average at the start and the end: other work on the machine skews timings. */
  readonly load: readonly [number, number];
  readonly core: readonly CoreMeasurement[];
  readonly profile: ProfileSummary | undefined;
  readonly e2e: E2eMeasurement | undefined;
  readonly cli: CliMeasurement | undefined;
  readonly lookup: LookupMeasurement | undefined;
  readonly shards: (ShardsMeasurement & { readonly cursor: CursorRateMeasurement }) | undefined;
  readonly summary: readonly SummaryMeasurement[];
  readonly bundles: readonly BundleMeasurement[];
  readonly coldRequest: ColdRequestMeasurement | undefined;
  readonly initProfile: InitProfile | undefined;
}

export type Progress = (line: string) => void;

/** A measurement child that takes longer than this is stuck (the slowest takes about 20 s). */
const CHILD = { nodeFlags: ['--expose-gc'], timeoutMs: 5 * 60_000 } as const;

function coreArgs(o: BenchOptions, kind: CoreKind, size: number, runs: number): string[] {
  return [
    'bench/measure-core.ts',
    ...['--kind', kind, '--size', String(size), '--runs', String(runs)],
    ...['--seed', String(o.seed), '--batch-size', String(o.batchSize)],
  ];
}

async function measureCore(o: BenchOptions, progress: Progress): Promise<CoreMeasurement[]> {
  const results: CoreMeasurement[] = [];
  for (const size of [...new Set([...o.sizes, ...o.naiveSizes])].sort((a, b) => a - b)) {
    const kinds: CoreKind[] = [
      ...(o.sizes.includes(size) ? (['chronological', 'month-first'] as const) : []),
      ...(o.naiveSizes.includes(size) ? (['naive'] as const) : []),
    ];
    for (const kind of kinds) {
      const m = await runChild<CoreMeasurement>(coreArgs(o, kind, size, o.runs), CHILD);
      progress(`core ${kind} n=${size}: ${m.medianMs.toFixed(1)} ms, floor ${m.floorMedianMs.toFixed(1)} ms`);
      const chronological = results.find((c) => c.kind === 'chronological' && c.size === size);
      if (kind === 'naive' && chronological && !isDeepStrictEqual(m.counts, chronological.counts)) {
        throw new Error(
          `n=${size}: the naive baseline found ${JSON.stringify(m.counts)}, chronological ${JSON.stringify(chronological.counts)}`,
        );
      }
      results.push(m);
    }
  }
  return results;
}

/** CPU profile of one run of the slower policy at the largest size; the .cpuprofile goes to `dir`. */
async function profileCore(o: BenchOptions, core: readonly CoreMeasurement[], dir: string) {
  const largest = core.filter((m) => m.kind !== 'naive' && m.size === Math.max(...o.sizes));
  const slowest = largest.sort((a, b) => b.medianMs - a.medianMs)[0];
  if (slowest === undefined) return undefined;
  const file = path.join(dir, `matcher-${slowest.kind}-${slowest.size}.cpuprofile`);
  return runChild<ProfileSummary>([...coreArgs(o, slowest.kind, slowest.size, 1), '--profile', file], CHILD);
}

/** `mongoexport`-style Extended JSON, one document per line: what the embedded store reads. */
function ndjson(records: readonly MatchingRecord[]): string {
  return records
    .map((r) => `{"id":${r.id},"date":{"$date":"${r.date.toISOString()}"},"month":"${r.month}"}\n`)
    .join('');
}

/**
 * Writes the inputs as NDJSON into a temp DATA_DIR, starts the emulators in their own process (so
 * their work is not counted) and runs bench/measure-e2e.ts in a fresh process against both.
 */
async function measureEndToEnd(o: BenchOptions, size: number): Promise<E2eMeasurement> {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'bench-e2e-'));
  try {
    const inputs = generateMatchingInputs(size, o.seed);
    await writeFile(path.join(dataDir, 'accrual.ndjson'), ndjson(inputs.accruals));
    await writeFile(path.join(dataDir, 'payment.ndjson'), ndjson(inputs.payments));
    const env = { ...process.env, POWERTOOLS_LOG_LEVEL: 'SILENT' };
    const emulators = await startServiceChild<{ env: Record<string, string> }>(['bench/emulator-host.ts'], {
      env,
    });
    try {
      const args = [
        'bench/measure-e2e.ts',
        '--data-dir',
        dataDir,
        '--size',
        String(size),
        '--runs',
        String(o.e2eRuns),
      ];
      return await runChild<E2eMeasurement>(args, {
        ...CHILD,
        env: { ...env, ...emulators.ready.env, DATA_DIR: dataDir },
      });
    } finally {
      await emulators.stop();
    }
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
}

/**
 * Partition lookups: the emulators in their own process, then bench/measure-lookup.ts in a fresh
 * one, which writes a partitioned run through the job and looks up random partitions of it.
 */
async function measureLookup(o: BenchOptions, size: number): Promise<LookupMeasurement> {
  const env = { ...process.env, POWERTOOLS_LOG_LEVEL: 'SILENT' };
  const emulators = await startServiceChild<{ env: Record<string, string> }>(['bench/emulator-host.ts'], {
    env,
  });
  try {
    const args = [
      'bench/measure-lookup.ts',
      '--size',
      String(size),
      '--partitions',
      String(o.lookupPartitions),
    ];
    args.push('--lookups', String(o.lookups), '--seed', String(o.seed), '--batch-size', String(o.batchSize));
    // Writing a 10^6 × 10^6 run takes minutes on a loaded machine.
    return await runChild<LookupMeasurement>(args, {
      ...CHILD,
      timeoutMs: 20 * 60_000,
      env: { ...env, ...emulators.ready.env },
    });
  } finally {
    await emulators.stop();
  }
}

/** Accounts as the demo data writes them: 13 digits, so text order is number order. */
const ACCOUNT_BASE = 7_800_000_000_000;
/** Records per account in the sharded run's data: 10 accruals and 10 payments, as measure-lookup's 10^6 over 10^5. */
const RECORDS_PER_ACCOUNT = 20;

/** `records` as NDJSON with an account each, written in pieces (10^7 lines do not fit in one string). */
async function writeWithAccounts(
  file: string,
  records: readonly MatchingRecord[],
  account: () => number,
): Promise<void> {
  const out = createWriteStream(file);
  const written = new Promise<void>((resolve, reject) => out.on('finish', resolve).on('error', reject));
  for (let at = 0; at < records.length; at += 10_000) {
    const lines = records.slice(at, at + 10_000).map((r) => {
      const date = r.date.toISOString();
      return `{"id":${r.id},"account":"${ACCOUNT_BASE + account()}","date":{"$date":"${date}"},"month":"${r.month}"}\n`;
    });
    if (!out.write(lines.join(''))) await new Promise<void>((resolve) => out.once('drain', resolve));
  }
  out.end();
  await written;
}

/**
 * The sharded run (issue 12): accruals and payments over many accounts written as NDJSON, the
 * emulators in their own process, bench/measure-shards.ts in a fresh one (unsharded, then plan,
 * shards and merge on the same files); then the driver cursor's delivery rate (no emulators).
 */
async function measureShards(o: BenchOptions, progress: Progress) {
  const { size, shards } = o.shards as NonNullable<BenchOptions['shards']>;
  const perSide = Math.ceil(size / 2);
  const partitions = Math.max(1, Math.round((2 * perSide) / RECORDS_PER_ACCOUNT));
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'bench-shards-'));
  let measured: ShardsMeasurement;
  try {
    const random = createRandom(o.seed * 13 + 7);
    const account = () => 1 + Math.floor(random() * partitions);
    // One side at a time: 5·10^6 records of each do not fit in the default heap together.
    for (const [which, file] of [
      ['accruals', 'accrual.ndjson'],
      ['payments', 'payment.ndjson'],
    ] as const) {
      await writeWithAccounts(path.join(dataDir, file), generateSide(which, perSide, o.seed), account);
    }
    const env = { ...process.env, POWERTOOLS_LOG_LEVEL: 'SILENT' };
    const emulators = await startServiceChild<{ env: Record<string, string> }>(['bench/emulator-host.ts'], {
      env,
    });
    try {
      const args = ['bench/measure-shards.ts', '--data-dir', dataDir, '--size', String(2 * perSide)];
      args.push('--shards', String(shards), '--partitions', String(partitions));
      measured = await runChild<ShardsMeasurement>(args, {
        // Every step loads both files into a fresh store: 10^7 records need more than the default heap.
        nodeFlags: ['--expose-gc', '--max-old-space-size=12288'],
        timeoutMs: 90 * 60_000,
        env: { ...env, ...emulators.ready.env, DATA_DIR: dataDir },
      });
    } finally {
      await emulators.stop();
    }
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
  const slowest = Math.max(...measured.shards.map((s) => s.ms));
  progress(
    `shards ${measured.size} records: unsharded ${measured.unsharded.ms.toFixed(0)} ms, ${measured.shards.length} shards (slowest ${slowest.toFixed(0)} ms), merge ${measured.merge.ms.toFixed(0)} ms`,
  );
  const rateArgs = ['bench/measure-cursor-rate.ts', '--docs', String(Math.min(perSide, 200_000))];
  rateArgs.push('--batch-size', String(o.batchSize), '--seed', String(o.seed));
  const cursor = await runChild<CursorRateMeasurement>(rateArgs, CHILD);
  progress(`cursor rate: ${cursor.docsPerSecond.toFixed(0)} documents/s over ${cursor.docs}`);
  return { ...measured, cursor };
}

/**
 * The actions summary: for each account shape, lib/summary/ and then the flattening baseline, each
 * in a fresh process on the same generated account. Throws as soon as the two disagree.
 */
async function measureSummary(o: BenchOptions, progress: Progress): Promise<SummaryMeasurement[]> {
  const shapes = o.summarySessions.map((sessions) => [sessions, SUMMARY_SHAPE.actionsPerSession]);
  if (o.summaryControlActions !== undefined) shapes.push([1, o.summaryControlActions]);
  const results: SummaryMeasurement[] = [];
  for (const [sessions, actions] of shapes) {
    const measured = [];
    for (const pipeline of ['per-session', 'flattening'] satisfies SummaryPipeline[]) {
      const args = ['bench/measure-summary.ts', '--pipeline', pipeline, '--sessions', String(sessions)];
      args.push('--actions', String(actions), '--runs', String(o.summaryRuns), '--seed', String(o.seed));
      const m = await runChild<SummaryMeasurement>(args, CHILD);
      progress(`summary ${pipeline} ${sessions} × ${actions}: ${m.medianMs.toFixed(0)} ms`);
      measured.push(m);
    }
    if (!isDeepStrictEqual(measured[0]?.summary, measured[1]?.summary)) {
      throw new Error(`actions summary ${sessions} × ${actions}: the pipelines disagree`);
    }
    results.push(...measured);
  }
  return results;
}

async function measureBundles(o: BenchOptions, progress: Progress) {
  const names = o.functions === 'all' ? await functionNames(REPO_ROOT) : o.functions;
  if (names.length === 0) return { bundles: [], coldRequest: undefined, initProfile: undefined };
  const dir = await mkdtemp(path.join(os.tmpdir(), 'bench-bundles-'));
  try {
    const built = await buildFunctionBundles(REPO_ROOT, dir, names);
    const bundles: BundleMeasurement[] = [];
    for (const bundle of built) {
      const m = await measureBundle(bundle, o.initRuns);
      progress(`bundle ${m.name}: ${(m.bytes / 1024).toFixed(0)} KiB, init ${m.initMedianMs.toFixed(0)} ms`);
      bundles.push(m);
    }
    const cold = built.find((b) => b.name === COLD_REQUEST_FUNCTION);
    const coldRequest = cold && (await measureColdRequest(cold, o.initRuns));
    const slowest = [...bundles].sort((a, b) => b.initMedianMs - a.initMedianMs)[0];
    const profiled = built.find((b) => b.name === slowest?.name);
    const initProfile = o.profile && profiled ? await profileBundleImport(profiled) : undefined;
    return { bundles, coldRequest, initProfile };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * Runs every measurement the options ask for, one child process at a time (never two at once:
 * they would compete for the cores). `profileDir` keeps the matcher's CPU profile.
 */
export async function runBenchSuite(
  o: BenchOptions,
  progress: Progress,
  profileDir: string = os.tmpdir(),
): Promise<BenchResults> {
  const startedAt = new Date();
  const loadStart = os.loadavg()[0] ?? 0;
  const core = await measureCore(o, progress);
  const profile = o.profile ? await profileCore(o, core, profileDir) : undefined;
  if (profile) progress(`profile: ${profile.file}`);
  const e2e = o.e2eSize === undefined ? undefined : await measureEndToEnd(o, o.e2eSize);
  if (e2e) progress(`e2e n=${e2e.size}: ${e2e.median.totalMs.toFixed(0)} ms`);
  const cli =
    o.cli === undefined ? undefined : await measureCommandLine({ ...o.cli, seed: o.seed }, progress);
  const lookup = o.lookupSize === undefined ? undefined : await measureLookup(o, o.lookupSize);
  if (lookup) {
    progress(
      `lookup n=${lookup.size} over ${lookup.partitions} partitions: median ${lookup.service.medianMs.toFixed(1)} ms, at most ${lookup.bytes.max} bytes`,
    );
  }
  const shards = o.shards === undefined ? undefined : await measureShards(o, progress);
  const summary = await measureSummary(o, progress);
  const { bundles, coldRequest, initProfile } = await measureBundles(o, progress);
  return {
    options: o,
    startedAt,
    durationS: (Date.now() - startedAt.getTime()) / 1000,
    load: [loadStart, os.loadavg()[0] ?? 0],
    core,
    profile,
    e2e,
    cli,
    lookup,
    shards,
    summary,
    bundles,
    coldRequest,
    initProfile,
  };
}
