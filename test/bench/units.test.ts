import type { Document } from 'mongodb';
import { describe, expect, it } from 'vitest';
import { decadeLabel, decadeRange, renderChart } from '../../bench/chart.js';
import { flatteningAccountActionsPipeline } from '../../bench/flatten-summary.js';
import { generateMatchingInputs, INPUT_SHAPE } from '../../bench/inputs.js';
import { matchNaive } from '../../bench/naive-match.js';
import { parseBenchOptions, parseSize } from '../../bench/options.js';
import { parseServerlessEsbuildConfig } from '../../bench/serverless-esbuild-config.js';
import { growthExponent, median } from '../../bench/stats.js';
import { summaryAgreement, summaryGrowthSteps, summaryShapes } from '../../bench/summary.js';
import {
  expectedSummary,
  GENERATED_ACTION_TYPES,
  type GeneratedAccount,
  generateAccount,
  SUMMARY_ACCOUNT_NUMBER,
  toSummaryEntries,
} from '../../bench/summary-inputs.js';
import type { SummaryMeasurement, SummaryPipeline } from '../../bench/summary-types.js';
import { matchPayments } from '../../lib/matching/index.js';
import { EmbeddedDocumentStore } from '../../lib/store/embedded-store.js';
import { getAccountActions } from '../../lib/summary/index.js';
import { workedExample } from '../fixtures/worked-example.js';
import { wellFormedXml } from './xml.js';

const day = (d: number): Date => new Date(Date.UTC(2024, 0, d));

describe('naive baseline', () => {
  it('reproduces the chronological worked example of SPEC §3', () => {
    const { accruals, payments } = workedExample(day);
    const outcome = matchNaive(accruals, payments);
    const pairs = [...outcome.matchPayment].map((p, i) => [
      payments[p]?.id,
      accruals[outcome.matchAccrual[i] as number]?.id,
      outcome.sameMonth[i] === 1 ? 'same-month' : 'oldest',
    ]);
    expect(pairs).toEqual([
      [3, 1, 'oldest'],
      [1, 2, 'oldest'],
      [2, 7, 'same-month'],
      [4, 3, 'oldest'],
      [5, 4, 'oldest'],
    ]);
    expect([...outcome.unpaidAccruals].map((a) => accruals[a]?.id)).toEqual([5, 6]);
  });

  it('pairs exactly the records matchPayments pairs under the chronological policy', async () => {
    const { accruals, payments } = generateMatchingInputs(400, 7);
    const naive = matchNaive(accruals, payments);
    const expected = [...(await matchPayments(accruals, payments)).matches()].map((m) => [
      m.payment.id,
      m.accrual.id,
      m.rule,
    ]);
    const actual = [...naive.matchPayment].map((p, i) => [
      payments[p]?.id,
      accruals[naive.matchAccrual[i] as number]?.id,
      naive.sameMonth[i] === 1 ? 'same-month' : 'oldest',
    ]);
    expect(actual).toEqual(expected);
  });
});

describe('actions-summary inputs and baseline', () => {
  const storeOf = (account: GeneratedAccount): EmbeddedDocumentStore =>
    new EmbeddedDocumentStore({ collections: { Account: [{ ...account }] } });

  const flattened = async (account: GeneratedAccount): Promise<Document[]> => {
    const documents: Document[] = [];
    const pipeline = flatteningAccountActionsPipeline(SUMMARY_ACCOUNT_NUMBER);
    for await (const document of storeOf(account).aggregate('Account', pipeline)) documents.push(document);
    return documents;
  };

  it('generates the same account for the same seed: sessions × actions, six types, Date dates', () => {
    const account = generateAccount(30, 10, 5);
    expect(generateAccount(30, 10, 5)).toEqual(account);
    expect(generateAccount(30, 10, 6)).not.toEqual(account);
    expect(account.sessions).toHaveLength(30);
    const actions = account.sessions.flatMap((s) => s.actions);
    expect(actions).toHaveLength(300);
    expect(new Set(actions.map((a) => a.type))).toEqual(new Set(GENERATED_ACTION_TYPES));
    expect(actions.every((a) => a.created_at instanceof Date)).toBe(true);
  });

  it('lists the canonical types first, then the extra ones ascending, as SPEC §2 orders them', () => {
    const summary = expectedSummary(generateAccount(50, 10, 1));
    expect(summary.map((e) => e.type)).toEqual(['create', 'read', 'update', 'delete', 'export', 'login']);
    expect(summary.reduce((sum, e) => sum + e.count, 0)).toBe(500);
  });

  it.each([
    [40, 10],
    [1, 300],
  ])(
    'gets the same summary from lib, the flattening baseline and plain JavaScript (%i × %i)',
    async (sessions, actions) => {
      const account = generateAccount(sessions, actions, 3);
      const expected = expectedSummary(account);
      const current = await getAccountActions(storeOf(account), SUMMARY_ACCOUNT_NUMBER);
      expect(toSummaryEntries(current?.actions)).toEqual(expected);
      const baseline = await flattened(account);
      expect(baseline).toHaveLength(1);
      expect(toSummaryEntries(baseline[0]?.actions)).toEqual(expected);
    },
  );

  const measurement = (
    pipeline: SummaryPipeline,
    sessions: number,
    medianMs: number,
    count = sessions * 10,
  ): SummaryMeasurement => ({
    pipeline,
    sessions,
    actionsPerSession: 10,
    seed: 1,
    maxRuns: 1,
    runsMs: [medianMs],
    medianMs,
    generateMs: 0,
    summary: [{ type: 'create', last: null, count }],
  });

  it('computes the growth exponent per pipeline against the previous number of sessions', () => {
    const steps = summaryGrowthSteps([
      measurement('per-session', 1000, 10),
      measurement('flattening', 1000, 10),
      measurement('per-session', 10_000, 100),
      measurement('flattening', 10_000, 1000),
    ]);
    expect(steps.map((s) => [s.pipeline, s.from, s.to])).toEqual([
      ['per-session', 1000, 10_000],
      ['flattening', 1000, 10_000],
    ]);
    expect(steps[0]?.time).toBeCloseTo(1);
    expect(steps[1]?.time).toBeCloseTo(2);
  });

  it('reports whether both pipelines returned the same summary at each shape', () => {
    expect(
      summaryAgreement([
        measurement('per-session', 100, 1),
        measurement('flattening', 100, 1),
        measurement('per-session', 200, 1),
        measurement('flattening', 200, 1, 7),
        measurement('per-session', 300, 1),
      ]).map((a) => [a.shape.sessions, a.same]),
    ).toEqual([
      [100, true],
      [200, false],
    ]);
  });
});

describe('generated inputs', () => {
  it('are the same for the same seed and differ for another', () => {
    const a = generateMatchingInputs(50, 3);
    expect(generateMatchingInputs(50, 3)).toEqual(a);
    expect(generateMatchingInputs(50, 4)).not.toEqual(a);
  });

  it('use every id once, few distinct days (many ties) and YYYY-MM months', () => {
    const { accruals, payments } = generateMatchingInputs(5000, 1);
    for (const side of [accruals, payments]) {
      expect(new Set(side.map((r) => r.id)).size).toBe(5000);
      expect(Math.min(...side.map((r) => r.id))).toBe(1);
      expect(new Set(side.map((r) => r.date.getTime())).size).toBeLessThanOrEqual(INPUT_SHAPE.days);
      expect(new Set(side.map((r) => r.month)).size).toBeLessThanOrEqual(INPUT_SHAPE.months);
      expect(side.every((r) => /^\d{4}-\d{2}$/.test(String(r.month)))).toBe(true);
    }
    const ids = accruals.map((r) => r.id);
    expect(ids).not.toEqual([...ids].sort((x, y) => x - y));
  });
});

describe('command line', () => {
  it.each([
    ['1000', 1000],
    ['1_000', 1000],
    ['1e3', 1000],
    ['10^6', 1_000_000],
    ['3e4', 30_000],
  ])('reads the size %s as %i', (text, size) => {
    expect(parseSize(text)).toBe(size);
  });

  it.each(['0', '-5', '1.5', 'ten'])('rejects the size %s', (text) => {
    expect(() => parseSize(text)).toThrow(/not a size/);
  });

  it('runs up to 10^6 with a profile by default, and up to 10^5 without one with --quick', () => {
    const full = parseBenchOptions([]);
    const quick = parseBenchOptions(['--quick']);
    expect(full.sizes).toEqual([1e3, 1e4, 1e5, 1e6]);
    expect(full.runs).toBe(5);
    expect(quick.runs).toBe(3);
    expect(full.profile).toBe(true);
    expect(Math.max(...quick.sizes)).toBe(1e5);
    expect(quick.profile).toBe(false);
  });

  it('limits the naive baseline to the sizes asked for and honours the skip flags', () => {
    const options = parseBenchOptions(['--sizes', '1e3,1e4', '--skip-e2e', '--skip-bundles']);
    expect(options.naiveSizes).toEqual([1e3, 1e4]);
    expect(options.e2eSize).toBeUndefined();
    expect(options.functions).toEqual([]);
  });

  it('measures the actions summary up to 20,000 sessions and a one-session control, unless skipped', () => {
    expect(summaryShapes(parseBenchOptions([]))).toEqual([
      { sessions: 1000, actionsPerSession: 10 },
      { sessions: 5000, actionsPerSession: 10 },
      { sessions: 20_000, actionsPerSession: 10 },
      { sessions: 1, actionsPerSession: 100_000 },
    ]);
    expect(parseBenchOptions([]).summaryRuns).toBe(3);
    expect(Math.max(...parseBenchOptions(['--quick']).summarySessions)).toBe(5000);
    const toy = parseBenchOptions(['--summary-sessions', '20,10', '--summary-control', '100', '--runs', '1']);
    expect(summaryShapes(toy)).toEqual([
      { sessions: 10, actionsPerSession: 10 },
      { sessions: 20, actionsPerSession: 10 },
      { sessions: 1, actionsPerSession: 100 },
    ]);
    expect(toy.summaryRuns).toBe(1);
    expect(summaryShapes(parseBenchOptions(['--skip-summary']))).toEqual([]);
  });

  it('rejects an unknown flag', () => {
    expect(() => parseBenchOptions(['--fast'])).toThrow();
  });
});

describe('serverless.yml esbuild settings', () => {
  const yaml = [
    'custom:',
    '  esbuild:',
    '    # comment',
    '    minify: true',
    '    plugins: ./serverless/plugins.cjs',
    '    banner:',
    '      js: "x"',
    '    exclude:',
    "      - '@aws-sdk/*'",
    '      # why',
    '      - kerberos',
    '  serverless-offline:',
    '    noAuth: true',
  ].join('\n');

  it('reads the top-level options and the exclude list of custom.esbuild only', () => {
    expect(parseServerlessEsbuildConfig(yaml)).toEqual({
      options: { minify: 'true', plugins: './serverless/plugins.cjs' },
      exclude: ['@aws-sdk/*', 'kerberos'],
    });
  });

  it('refuses a file without the block', () => {
    expect(() => parseServerlessEsbuildConfig('service: x\n')).toThrow(/custom.esbuild/);
  });
});

describe('statistics', () => {
  it.each([
    [[3], 3],
    [[5, 1, 3], 3],
    [[4, 1, 3, 2], 2.5],
  ])('median of %j is %d', (values, expected) => {
    expect(median(values)).toBe(expected);
  });

  it('gives growth exponent 2 for a quadratic step and about 1.2 for n·log n from 10^5 to 10^6', () => {
    expect(growthExponent(1e3, 1, 1e4, 100)).toBeCloseTo(2);
    const nlogn = (n: number): number => n * Math.log2(n);
    expect(growthExponent(1e5, nlogn(1e5), 1e6, nlogn(1e6))).toBeCloseTo(1.079, 2);
  });
});

describe('log-log chart', () => {
  it.each([
    [3, 0, '10³'],
    [-1, 4, '0.1'],
    [3, 4, '1000'],
    [6, 4, '10⁶'],
    [-3, 4, '10⁻³'],
  ])('labels decade %i (plain up to %i) as %s', (exponent, plainUpTo, label) => {
    expect(decadeLabel(exponent, plainUpTo)).toBe(label);
  });

  it('covers the data with whole decades, clamping values below the floor', () => {
    expect(decadeRange([3, 4500], 1)).toEqual({ lo: 0, hi: 4 });
    expect(decadeRange([0, 0.2, 20], 0.5)).toEqual({ lo: -1, hi: 2 });
  });

  it('escapes series names and stays well-formed', () => {
    const svg = renderChart(
      [
        {
          title: 'a < b',
          xLabel: 'n',
          yLabel: 'ms',
          yFloor: 0.1,
          series: [
            {
              name: 'x & y',
              color: '#000',
              points: [
                [10, 1],
                [100, 0],
              ],
            },
          ],
        },
      ],
      { title: 'T' },
    );
    expect(svg).toContain('x &amp; y');
    // Biome's lint (npm run lint) wants a title as the svg's first child.
    expect(svg).toMatch(/<svg [^>]*role="img"[^>]*>\n<title>T<\/title>/);
    expect(wellFormedXml(svg)).toBe(true);
    expect(wellFormedXml('<svg><g></svg>')).toBe(false);
  });
});
