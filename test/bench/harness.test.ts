import { spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../bench/child-process.js';
import type { CoreKind, CoreMeasurement } from '../../bench/core-types.js';
import { parseBenchOptions } from '../../bench/options.js';
import { renderMarkdown } from '../../bench/report.js';
import { renderReportChart } from '../../bench/report-chart.js';
import type { BenchReport } from '../../bench/report-types.js';
import { runBenchSuite } from '../../bench/suite.js';
import { summaryAgreement, summaryGrowthSteps } from '../../bench/summary.js';
import { wellFormedXml } from './xml.js';

/**
 * The whole `npm run bench` pipeline at a toy size (n = m = 1000, one run each, one bundle), so
 * the harness cannot rot unnoticed: child processes, peak-RSS method, profile, the end-to-end job
 * against the emulators, the actions summary on toy accounts, the bundle build and the rendered page.
 * About 7-11 s on 2 cores.
 */
const TOY_ARGS = [
  '--sizes',
  '1e3',
  '--runs',
  '1',
  '--e2e-size',
  '1e3',
  '--functions',
  'get-matching-run,get-account-actions',
  '--init-runs',
  '1',
  '--summary-sessions',
  '20,40',
  '--summary-control',
  '200',
  '--profile',
];

describe('the benchmark harness at a toy size', () => {
  let report: BenchReport;
  let profileDir: string;

  beforeAll(async () => {
    profileDir = await mkdtemp(path.join(os.tmpdir(), 'bench-smoke-'));
    const started = performance.now();
    report = await runBenchSuite(parseBenchOptions(TOY_ARGS), TOY_ARGS, () => undefined, profileDir);
    console.log(`bench harness smoke run: ${((performance.now() - started) / 1000).toFixed(1)} s`);
  }, 60_000);

  afterAll(async () => {
    await rm(profileDir, { recursive: true, force: true });
  });

  const row = (kind: CoreKind): CoreMeasurement => {
    const found = report.core.find((m) => m.kind === kind && m.size === 1000);
    if (found === undefined) throw new Error(`no ${kind} row`);
    return found;
  };

  it.each(['chronological', 'month-first', 'naive'] as const)(
    'measures %s with its own sort floor',
    (kind) => {
      const m = row(kind);
      expect(m.runsMs).toHaveLength(1);
      expect(m.medianMs).toBeGreaterThan(0);
      expect(m.floorMedianMs).toBeGreaterThan(0);
      expect(m.counts.matched + m.counts.unmatched).toBe(1000);
    },
  );

  it('measures peak RSS with the kernel high-water mark, never below the baseline', () => {
    for (const m of report.core) {
      expect(m.peakMethod).toBe(process.platform === 'linux' ? 'vmhwm' : 'maxrss');
      expect(m.peakRssBytes).toBeGreaterThanOrEqual(m.baselineRssBytes);
    }
  });

  it('finds the same matches with the naive baseline as with the chronological matcher', () => {
    expect(row('naive').counts).toEqual(row('chronological').counts);
  });

  it('profiles the slower policy and attributes self time to functions', () => {
    expect(report.profile?.size).toBe(1000);
    expect(report.profile?.top.length).toBeGreaterThan(0);
    const top = report.profile?.top ?? [];
    expect(top.every((entry) => entry.name !== '')).toBe(true);
    expect(top.reduce((sum, entry) => sum + entry.selfMs, 0)).toBeGreaterThan(0);
  });

  it('runs the matching job end to end into the S3 emulator and splits its time into phases', () => {
    const e2e = report.e2e;
    expect(e2e?.stats).toEqual({
      accruals: 1000,
      payments: 1000,
      matched: row('chronological').counts.matched,
    });
    const m = e2e?.median;
    expect(m?.readMs).toBeGreaterThan(0);
    expect(m?.writeMs).toBeGreaterThan(0);
    expect(m?.ledgerMs).toBeGreaterThan(0);
    expect(m?.matchMs).toBeGreaterThanOrEqual(0);
    expect((m?.readMs ?? 0) + (m?.writeMs ?? 0) + (m?.ledgerMs ?? 0)).toBeLessThanOrEqual(m?.totalMs ?? 0);
    expect(e2e?.outputBytes.resultJson).toBeGreaterThan(1000);
  });

  it('times the actions summary of one account with both pipelines, which agree, and their growth', () => {
    expect(report.summary.map((m) => [m.pipeline, m.sessions, m.actionsPerSession])).toEqual([
      ['per-session', 20, 10],
      ['flattening', 20, 10],
      ['per-session', 40, 10],
      ['flattening', 40, 10],
      ['per-session', 1, 200],
      ['flattening', 1, 200],
    ]);
    for (const m of report.summary) {
      expect(m.runsMs).toHaveLength(1);
      expect(m.medianMs).toBeGreaterThan(0);
      expect(m.summary.map((e) => e.type)).toEqual(['create', 'read', 'update', 'delete', 'export', 'login']);
      expect(m.summary.reduce((sum, e) => sum + e.count, 0)).toBe(m.sessions * m.actionsPerSession);
      expect(m.summary.every((e) => e.last !== null)).toBe(true);
    }
    expect(summaryAgreement(report.summary).map((a) => a.same)).toEqual([true, true, true]);
    const steps = summaryGrowthSteps(report.summary);
    expect(steps.map((s) => [s.pipeline, s.from, s.to])).toEqual([
      ['per-session', 20, 40],
      ['flattening', 20, 40],
    ]);
    expect(steps.every((s) => Number.isFinite(s.time))).toBe(true);
    const page = renderMarkdown(report, 'benchmarks.svg');
    expect(page).toMatch(/^## Actions summary: one account, embedded store$/m);
    expect(page).toMatch(
      /^\| +40 × 10 \| flattening baseline +\| +1 \| +[\d.,]+ \| +-?\d+\.\d\d \| +\d+\.\d\d \|$/m,
    );
    expect(page).toContain('identical summaries at 20 × 10, 40 × 10, 1 × 200');
  });

  it('builds the requested function bundles with the deployed options and times their import', () => {
    expect(report.bundles.map((b) => b.name)).toEqual(['get-matching-run', 'get-account-actions']);
    const bundle = report.bundles[0];
    expect(bundle?.bytes).toBeGreaterThan(10_000);
    expect(bundle?.initMedianMs).toBeGreaterThan(0);
    expect(bundle?.externals.every((e) => e.startsWith('@aws-sdk/'))).toBe(true);
  });

  it('times a cold request to the account route: init with the driver, then a first request that connects', () => {
    const cold = report.coldRequest;
    expect(cold?.name).toBe('get-account-actions');
    expect(cold?.runs).toBe(1);
    expect(cold?.statuses).toEqual([200]);
    expect(cold?.driverAtInit).toBe(true);
    expect(cold?.coldMedianMs).toBeCloseTo((cold?.initMedianMs ?? 0) + (cold?.firstRequestMedianMs ?? 0), 6);
    expect(renderMarkdown(report, 'benchmarks.svg')).toMatch(/^### Cold request: `get-account-actions`$/m);
  });

  it('profiles the cold import of the slowest bundle and lists the CommonJS it loads', () => {
    expect(report.initProfile?.name).toBe('get-matching-run');
    expect(report.initProfile?.byOrigin.length).toBeGreaterThan(0);
    expect(report.initProfile?.commonJsFiles.some((c) => c.pkg.startsWith('@aws-sdk/'))).toBe(true);
  });

  it('writes a page with the targets, one table row per measurement and a link to the chart', () => {
    const page = renderMarkdown(report, 'benchmarks.svg');
    expect(page).toContain('## Targets');
    expect(page).toContain('](benchmarks.svg)');
    for (const kind of ['chronological', 'month-first', 'naive baseline']) {
      expect(page).toMatch(new RegExp(`^\\| +10\\^3 \\| ${kind} +\\|`, 'm'));
    }
    expect(page).toMatch(/^\| end to end, 10\^5 × 10\^5: ≤ 10,000 ms +\| — +\| not measured \|$/m);
  });

  it('writes Markdown that Biome leaves unchanged, so the committed page passes npm run lint', () => {
    const page = renderMarkdown(report, 'benchmarks.svg');
    const biome = path.join(REPO_ROOT, 'node_modules', '@biomejs', 'biome', 'bin', 'biome');
    const formatted = spawnSync(process.execPath, [biome, 'format', '--stdin-file-path=docs/BENCHMARKS.md'], {
      cwd: REPO_ROOT,
      input: page,
      encoding: 'utf8',
    });
    expect(formatted.status).toBe(0);
    expect(formatted.stdout).toBe(page);
  });

  it('draws a well-formed SVG with a line for every series', () => {
    const svg = renderReportChart(report);
    expect(wellFormedXml(svg)).toBe(true);
    // Time: three matchers, matchRecords only, floor; memory: three matchers.
    expect(svg.match(/<polyline /g)).toHaveLength(8);
  });
});
