import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateMatchingInputs } from '../../bench/inputs.js';
import type { CoreKind, CoreMeasurement } from '../../bench/measure-core.js';
import { matchNaive } from '../../bench/naive-match.js';
import { parseBenchOptions } from '../../bench/options.js';
import { formatMarkdown, renderReport } from '../../bench/report.js';
import { type BenchResults, runBenchSuite } from '../../bench/suite.js';
import { evaluateTargets, MIB } from '../../bench/targets.js';
import { matchPayments } from '../../lib/matching/index.js';

function row(
  kind: CoreKind,
  size: number,
  medianMs: number,
  floorMs: number,
  peakMiB: number,
): CoreMeasurement {
  return {
    kind,
    size,
    runsMs: [medianMs],
    medianMs,
    matchMedianMs: medianMs,
    outputMedianMs: 0,
    cpuMedianMs: medianMs,
    floorMedianMs: floorMs,
    baselineRssBytes: 100 * MIB,
    peakRssBytes: (100 + peakMiB) * MIB,
    peakMethod: 'vmhwm',
    counts: { matched: 0, sameMonth: 0, unmatched: 0, unpaid: 0 },
  };
}

const statuses = (core: CoreMeasurement[]): string[] =>
  evaluateTargets(core, undefined, []).map((t) => `${t.target}: ${t.status}`);
const growth = (core: CoreMeasurement[]): string | undefined => statuses(core)[6];

describe('targets', () => {
  it('judges the 10^6 rows against 1,500 ms, 3 × the floor of the same run and 512 MiB above inputs', () => {
    const core = [row('chronological', 1e6, 1400, 470, 500), row('month-first', 1e6, 1400, 460, 513)];
    expect(statuses(core).slice(0, 6)).toEqual([
      'chronological, n = m = 10^6: ≤ 1,500 ms: pass',
      'chronological, n = m = 10^6: ≤ 3 × sort floor: pass',
      'chronological, n = m = 10^6: peak RSS above inputs ≤ 512 MiB: pass',
      'month-first, n = m = 10^6: ≤ 1,500 ms: pass',
      'month-first, n = m = 10^6: ≤ 3 × sort floor: fail',
      'month-first, n = m = 10^6: peak RSS above inputs ≤ 512 MiB: fail',
    ]);
    expect(statuses([row('chronological', 1e6, 1501, 600, 1)])[0]).toMatch(/: fail$/);
  });

  it('fails a growth step steeper than n^1.5 in time or n^1.3 in memory, and leaves out the naive baseline', () => {
    const [a, b] = [row('chronological', 1e4, 10, 1, 10), row('chronological', 1e5, 100, 10, 100)];
    expect(growth([a, b])).toMatch(/: pass$/);
    expect(growth([a, b, row('naive', 1e3, 10, 1, 10), row('naive', 1e4, 1000, 1, 10)])).toMatch(/: pass$/);
    expect(growth([a, row('chronological', 1e5, 10 * 10 ** 1.6, 10, 100)])).toMatch(/: fail$/);
    expect(growth([a, row('chronological', 1e5, 100, 10, 10 * 10 ** 1.4)])).toMatch(/: fail$/);
  });

  it('does not judge steps from below 5 ms or 8 MiB (fixed costs)', () => {
    expect(growth([row('chronological', 1e3, 1, 0.1, 1), row('chronological', 1e4, 100, 1, 100)])).toMatch(
      /: not measured$/,
    );
    const smallMemory = [row('chronological', 1e4, 10, 1, 1), row('chronological', 1e5, 100, 10, 1000)];
    expect(evaluateTargets(smallMemory, undefined, [])[6]?.measured).toBe(
      'worst time k = 1.00, worst memory k = —',
    );
  });
});

describe('naive baseline', () => {
  it('pairs exactly the records matchPayments pairs under the chronological policy', async () => {
    const { accruals, payments } = generateMatchingInputs(400, 7);
    const naive = matchNaive(accruals, payments);
    const outcome = await matchPayments(accruals, payments, { policy: 'chronological' });
    const expected = [...outcome.matches()].map((m) => [m.payment.id, m.accrual.id, m.rule]);
    const actual = [...naive.matchPayment].map((p, i) => [
      payments[p]?.id,
      accruals[naive.matchAccrual[i] as number]?.id,
      naive.sameMonth[i] === 1 ? 'same-month' : 'oldest',
    ]);
    expect(actual).toEqual(expected);
  });
});

/**
 * `npm run bench` at a toy size, so the harness cannot rot unnoticed between full runs: every
 * kind of child process, the emulators, one bundle with its cold request, both profiles, the page.
 */
describe('the benchmark at a toy size', () => {
  const args = [
    '--sizes',
    '1e3',
    '--runs',
    '1',
    '--e2e-size',
    '1e3',
    '--cli-size',
    '1e3',
    '--functions',
    'get-account-actions',
  ];
  args.push('--init-runs', '1', '--summary-sessions', '20', '--summary-control', '100', '--profile');
  args.push('--lookup-size', '2e3', '--lookup-partitions', '100', '--lookups', '10');
  args.push('--shards-size', '2e3', '--shards', '3');
  let results: BenchResults;
  let profileDir: string;

  beforeAll(async () => {
    profileDir = await mkdtemp(path.join(os.tmpdir(), 'bench-smoke-'));
    results = await runBenchSuite(parseBenchOptions(args), () => undefined, profileDir);
  }, 240_000); // the command line section adds a bundle build, three processes and the emulators

  afterAll(async () => {
    await rm(profileDir, { recursive: true, force: true });
  });

  it('measures both policies and the naive baseline, which finds the same matches', () => {
    const counts = (kind: CoreKind) => results.core.find((m) => m.kind === kind)?.counts;
    expect(results.core.map((m) => m.kind)).toEqual(['chronological', 'month-first', 'naive']);
    expect(counts('naive')).toEqual(counts('chronological'));
    expect((counts('chronological')?.matched ?? 0) + (counts('chronological')?.unmatched ?? 0)).toBe(1000);
    for (const m of results.core) expect(m.peakRssBytes).toBeGreaterThanOrEqual(m.baselineRssBytes);
  });

  it('runs the command line, its floor and the worker on the same files', () => {
    const cli = results.cli;
    expect(cli?.cli.outputBytes).toBeGreaterThan(0);
    expect(cli?.cli.cpuMs).toBeGreaterThan(0);
    expect(cli?.floor.cpuMs).toBeGreaterThan(0);
    expect(cli?.helpMs).toBeGreaterThan(0);
    expect(cli?.e2e?.matched).toBe(results.core[0]?.counts.matched);
    expect(cli?.big).toBeUndefined();
  });

  it('runs the job end to end on the same inputs, with the same matches, and splits its time', () => {
    expect(results.e2e?.matched).toBe(results.core[0]?.counts.matched);
    const m = results.e2e?.median;
    expect(m?.readMs).toBeGreaterThan(0);
    expect(m?.writeMs).toBeGreaterThan(0);
    expect(m?.ledgerMs).toBeGreaterThan(0);
    expect(m?.matchMs).toBeGreaterThanOrEqual(0);
  });

  it('writes a partitioned run through the job and looks up random partitions of it', () => {
    expect(results.lookup).toMatchObject({ size: 2000, partitions: 100, indexed: 100, lookups: 10 });
    expect(results.lookup?.outputBytes.partitionIndex).toBeGreaterThan(0);
    expect(results.lookup?.reads.min).toBeGreaterThanOrEqual(2);
    expect(results.lookup?.bytes.max).toBeLessThan(1024 * 1024);
    expect(results.lookup?.medianRecords).toBeGreaterThan(0);
    expect(results.lookup?.service.medianMs).toBeGreaterThan(0);
  });

  it('runs a partitioned run unsharded and sharded on the same data, every shard and the merge timed', () => {
    const s = results.shards;
    expect(s).toMatchObject({ size: 2000, partitions: 100, shardsAsked: 3 });
    // The plan may cut fewer shards than asked, never more; together they read every record once.
    expect(s?.shards.length).toBeGreaterThan(1);
    expect(s?.shards.length).toBeLessThanOrEqual(3);
    expect(s?.shards.reduce((sum, shard) => sum + shard.records, 0)).toBe(2000);
    expect(Object.keys(s?.identical ?? {})).toEqual([
      'matchesCsv',
      'unmatchedPaymentsCsv',
      'unpaidAccrualsCsv',
    ]);
    expect(s?.identical.matchesCsv).toBeGreaterThan(0);
    expect(s?.merge.outputs.matchesCsv).toBe(s?.identical.matchesCsv);
    expect(s?.merge.outputs.resultJson).toBeGreaterThan(0);
    expect(s?.cursor.docs).toBe(1000);
    expect(s?.cursor.docsPerSecond).toBeGreaterThan(0);
    const markdown = formatMarkdown(renderReport(results, args));
    expect(markdown).toMatch(/^\| shard 0 /m);
    expect(markdown).toMatch(/plan \+ slowest shard \+ merge/);
  });

  it('times the actions summary, a bundle, its cold request and two CPU profiles', () => {
    expect(results.summary.map((m) => `${m.pipeline} ${m.sessions}×${m.actionsPerSession}`)).toEqual([
      'per-session 20×10',
      'flattening 20×10',
      'per-session 1×100',
      'flattening 1×100',
    ]);
    expect(results.bundles.map((b) => b.name)).toEqual(['get-account-actions']);
    expect(results.coldRequest?.statuses).toEqual([200]);
    expect(results.profile?.top.length).toBeGreaterThan(0);
    expect(results.initProfile?.byOrigin.length).toBeGreaterThan(0);
    expect(formatMarkdown(renderReport(results, args))).toMatch(/^## Targets$/m);
  });
});
